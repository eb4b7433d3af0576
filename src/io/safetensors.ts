// safetensors: an 8-byte little-endian header length, a JSON header of
// {name: {dtype, shape, data_offsets: [begin, end]}} (plus optional __metadata__), then the data.
// F32 is read as is; F16 and BF16 are widened to F32.
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

const BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  U8: 1,
  I8: 1,
  BOOL: 1,
};

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function decode(dtype: string, bytes: Uint8Array, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      break;
    case "BF16": {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case "F64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    default:
      throw new Error(`unsupported dtype ${dtype}`);
  }
  return out;
}

/** Reads every floating-point tensor; integer tensors (e.g. position_ids buffers) are skipped. */
export async function readSafetensors(file: string): Promise<Map<string, NamedTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch {
    throw new UserError(`${file}: file not found`);
  }
  if (bytes.length < 8) {
    throw new UserError(`${file}: truncated (${bytes.length} bytes, no header)`);
  }
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (headerLen > bytes.length - 8) {
    throw new UserError(
      `${file}: header length ${headerLen} exceeds the file size ${bytes.length}`,
    );
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new UserError(`${file}: the header is not valid JSON`);
  }
  const dataStart = 8 + headerLen;
  const out = new Map<string, NamedTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [begin, end] } = info;
    const width = BYTES[dtype];
    if (!width) throw new UserError(`${file}: tensor ${name} has unknown dtype ${dtype}`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== n * width) {
      throw new UserError(
        `${file}: tensor ${name} claims shape [${shape}] ${dtype} (${n * width} bytes) but spans ${
          end - begin
        } bytes`,
      );
    }
    if (dataStart + end > bytes.length) {
      throw new UserError(
        `${file}: tensor ${name} ends at byte ${
          dataStart + end
        }, past the end of the file (${bytes.length} bytes): truncated`,
      );
    }
    if (!["F32", "F16", "BF16", "F64"].includes(dtype)) continue;
    out.set(name, {
      shape,
      data: decode(dtype, bytes.subarray(dataStart + begin, dataStart + end), n),
    });
  }
  return out;
}

/** F32 tensors in the given order, keys sorted as the header requires none; written atomically. */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, NamedTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = {
      dtype: "F32",
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8); // data starts 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  await writeFileAtomic(file, out);
}
