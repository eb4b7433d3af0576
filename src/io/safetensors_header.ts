// The safetensors header, validated as the format specifies before any data byte is used.
//
// Layout: 8 bytes N (u64, little-endian), N bytes of UTF-8 JSON, then the data buffer.
// Rules, from the format's README and the reference reader (huggingface/safetensors,
// safetensors/src/tensor.rs, `read_metadata` and `Metadata::validate`):
//   - N is at most 100,000,000 (MAX_HEADER_SIZE) and 8 + N lies inside the file;
//   - the header is UTF-8, begins with `{` and is a JSON object; duplicate keys are disallowed
//     (at any depth: JSON.parse keeps the last one silently, serde refuses them);
//   - `__metadata__`, when present, maps strings to strings only;
//   - every other key is a tensor {dtype, shape, data_offsets}: a known dtype, a shape of
//     non-negative integers, data_offsets two non-negative integers [begin, end), relative to
//     the start of the data buffer;
//   - sorted by begin, each tensor starts where the previous ended (the first at 0): no holes,
//     no overlaps, so the buffer is "entirely indexed" and cannot carry a second payload;
//   - end - begin = product(shape) × dtype bits / 8 (a whole number of bytes);
//   - the last end is exactly the size of the data buffer (nothing after it, nothing missing).
// Empty tensors (a 0 in the shape) and scalars (shape []) are valid.
import { visit } from "jsonc-parser";
import { UserError } from "../errors.ts";

/** The reference reader's bound on N (HeaderTooLarge past it). */
export const MAX_HEADER_SIZE = 100_000_000;

/** Bits per element of every dtype the format defines (tensor.rs `Dtype::bitsize`). */
export const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

export interface TensorEntry {
  dtype: string;
  shape: number[];
  /** Byte range [begin, end) inside the data buffer. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** File offset of the data buffer: 8 + N. */
  dataStart: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The first key repeated inside one JSON object, with its path, or null. */
function duplicateKey(text: string): string | null {
  const open: { path: string; keys: Set<string> }[] = [];
  let found: string | null = null;
  let last = "";
  visit(text, {
    onObjectBegin: () => {
      open.push({ path: open.length ? last : "", keys: new Set() });
    },
    onObjectEnd: () => {
      open.pop();
    },
    onObjectProperty: (name) => {
      const top = open[open.length - 1];
      if (top.keys.has(name) && found === null) {
        found = top.path ? `"${name}" inside "${top.path}"` : `"${name}"`;
      }
      top.keys.add(name);
      last = name;
    },
  });
  return found;
}

/**
 * Parses and validates the header of a whole safetensors file.
 * @param bytes the file's bytes; only the first 8 + N are read here.
 * @param file the path, for error messages.
 * @throws UserError naming the file, the tensor where there is one, and the rule broken.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, file: string): SafetensorsHeader {
  const bad = (msg: string) => new UserError(`${file}: not a valid safetensors file: ${msg}`);
  if (bytes.length < 8) {
    throw bad(`${bytes.length} bytes, fewer than the 8 of the header size`);
  }
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    throw bad(`header size ${n64} bytes exceeds the format's limit of ${MAX_HEADER_SIZE}`);
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    throw bad(`header size ${n} bytes runs past the end of the file (${bytes.length} bytes)`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw bad("the header is not valid UTF-8");
  }
  if (!text.startsWith("{")) throw bad("the header must begin with '{'");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  const dup = duplicateKey(text);
  if (dup) throw bad(`duplicate key ${dup} in the header`);

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  for (const [name, info] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        throw bad(`__metadata__ must be an object of strings, found ${JSON.stringify(info)}`);
      }
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") {
          throw bad(`__metadata__ "${k}" must be a string, found ${JSON.stringify(v)}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const t = info as Record<string, unknown>;
    if (t === null || typeof t !== "object" || Array.isArray(t)) {
      throw bad(
        `tensor ${name}: expected {dtype, shape, data_offsets}, found ${JSON.stringify(t)}`,
      );
    }
    const { dtype, shape, data_offsets: offsets } = t;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BITS)) {
      throw bad(
        `tensor ${name}: unknown dtype ${JSON.stringify(dtype)} (known: ${
          Object.keys(DTYPE_BITS).join(", ")
        })`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw bad(
        `tensor ${name}: shape ${JSON.stringify(shape)} must be a list of non-negative integers`,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw bad(
        `tensor ${name}: data_offsets ${
          JSON.stringify(offsets)
        } must be two non-negative integers [begin, end] inside the data buffer`,
      );
    }
    tensors.set(name, { dtype, shape, begin: offsets[0], end: offsets[1] });
  }

  // Coverage: in order of begin, each tensor starts where the previous ended.
  const bufferSize = bytes.length - 8 - n;
  const ordered = [...tensors].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let at = 0, prev = "";
  for (const [name, t] of ordered) {
    if (t.end < t.begin) {
      throw bad(`tensor ${name}: data_offsets [${t.begin}, ${t.end}] end before they begin`);
    }
    if (t.begin > at) {
      throw bad(
        `tensor ${name} begins at byte ${t.begin} of the data buffer but ${
          prev ? `${prev} ends at ${at}` : "the buffer starts at 0"
        }: a hole of ${t.begin - at} bytes`,
      );
    }
    if (t.begin < at) {
      throw bad(
        `tensor ${name} begins at byte ${t.begin}, inside ${prev} (which ends at ${at}): overlapping data`,
      );
    }
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const bits = elements * DTYPE_BITS[t.dtype];
    if (!Number.isSafeInteger(bits)) throw bad(`tensor ${name}: shape [${t.shape}] overflows`);
    if (bits % 8 !== 0) {
      throw bad(`tensor ${name}: ${elements} ${t.dtype} elements do not fill whole bytes`);
    }
    if (t.end - t.begin !== bits / 8) {
      throw bad(
        `tensor ${name}: shape [${t.shape}] ${t.dtype} needs ${
          bits / 8
        } bytes but data_offsets [${t.begin}, ${t.end}] span ${t.end - t.begin}`,
      );
    }
    at = t.end;
    prev = name;
  }
  if (at > bufferSize) {
    throw bad(
      `tensor ${prev} ends at byte ${at} of the data buffer, which holds ${bufferSize} bytes: truncated`,
    );
  }
  if (at < bufferSize) {
    throw bad(
      `the tensors cover ${at} bytes of the data buffer, which holds ${bufferSize}: ${
        bufferSize - at
      } bytes after the last tensor`,
    );
  }
  return { dataStart: 8 + n, tensors, metadata };
}
