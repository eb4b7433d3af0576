// Flax checkpoints (flax_model.msgpack), read as transformers' `from_pretrained(..., from_flax=True)`
// reads them into a PyTorch model.
//
// The file is flax.serialization.msgpack_serialize of the nested parameter dict: each array is a
// msgpack extension of type 1 holding msgpack (shape, dtype name, C-order bytes); arrays over
// 2^30 bytes are {"__msgpack_chunked_array__": true, "shape": {"0": …}, "chunks": {"0": …}}.
// Names become PyTorch's as in transformers' load_flax_weights_in_pytorch_model: path parts
// joined with ".", a final "kernel" becomes "weight" transposed ([in, out] → [out, in]),
// "scale" and "embedding" become "weight"; bfloat16 is widened to float32.
import { decode, ExtData, ExtensionCodec } from "@msgpack/msgpack";
import { UserError } from "../errors.ts";
import type { StoredTensor } from "./safetensors.ts";

/** numpy dtype names → bytes per element, and the safetensors name used in messages. */
const NUMPY: Record<string, [bytes: number, name: string]> = {
  float32: [4, "F32"],
  float16: [2, "F16"],
  bfloat16: [2, "BF16"],
  float64: [8, "F64"],
  int64: [8, "I64"],
  int32: [4, "I32"],
  int16: [2, "I16"],
  int8: [1, "I8"],
  uint8: [1, "U8"],
  bool: [1, "BOOL"],
};

interface FlaxArray {
  shape: number[];
  dtype: string;
  bytes: Uint8Array;
}

const isArray = (v: unknown): v is FlaxArray =>
  typeof v === "object" && v !== null && (v as FlaxArray).bytes instanceof Uint8Array &&
  Array.isArray((v as FlaxArray).shape);

function toF32(a: FlaxArray, n: number): Float32Array {
  const view = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
  const out = new Float32Array(n);
  if (a.dtype === "float32") { for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true); }
  else if (a.dtype === "float64") {
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
  } else if (a.dtype === "bfloat16") {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = view.getUint16(i * 2, true) << 16;
  } else { // float16
    for (let i = 0; i < n; i++) {
      const h = view.getUint16(i * 2, true);
      const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      out[i] = e === 0
        ? s * m * 2 ** -24
        : e === 31
        ? (m ? NaN : s * Infinity)
        : s * (1 + m / 1024) * 2 ** (e - 15);
    }
  }
  return out;
}

/** [rows, cols] row-major → [cols, rows]. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

/** Joins a chunked array's pieces (flax's _unchunk). */
function unchunk(v: Record<string, unknown>, path: string, file: string): FlaxArray {
  const shapeDict = v.shape as Record<string, number>, chunks = v.chunks as Record<string, unknown>;
  const parts = Object.keys(chunks ?? {}).sort((a, b) => +a - +b).map((k) => chunks[k]);
  if (!shapeDict || !parts.every(isArray)) {
    throw new UserError(`${file}: ${path}: a chunked array without its shape or chunks`);
  }
  const bytes = new Uint8Array(parts.reduce((a, p) => a + p.bytes.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p.bytes, at);
    at += p.bytes.length;
  }
  const shape = Object.keys(shapeDict).sort((a, b) => +a - +b).map((k) => shapeDict[k]);
  return { shape, dtype: parts[0]?.dtype ?? "float32", bytes };
}

/**
 * Every array of a Flax checkpoint under transformers' PyTorch names, floating-point arrays
 * converted to F32 (data null for the others, so that the caller can name them).
 * @throws UserError when the file is not a Flax msgpack state dict or an array's bytes do not
 * match its shape and dtype.
 */
export async function readFlaxMsgpack(file: string): Promise<Map<string, StoredTensor>> {
  const codec = new ExtensionCodec();
  codec.register({
    type: 1, // flax _MsgpackExtType.ndarray
    encode: () => null,
    decode: (data: Uint8Array) => {
      const [shape, dtype, bytes] = decode(data) as [number[], string, Uint8Array];
      return { shape, dtype, bytes };
    },
  });
  let root: unknown;
  try {
    root = decode(await Deno.readFile(file), { extensionCodec: codec });
  } catch (e) {
    throw new UserError(`${file}: not a Flax msgpack checkpoint (${(e as Error).message})`);
  }
  if (typeof root !== "object" || root === null || Array.isArray(root)) {
    throw new UserError(`${file}: not a Flax msgpack checkpoint (no parameter dict at the top)`);
  }
  const out = new Map<string, StoredTensor>();
  const walk = (node: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(node)) {
      const at = [...path, k];
      const leaf = isArray(v)
        ? v
        : v && typeof v === "object" && "__msgpack_chunked_array__" in v
        ? unchunk(v as Record<string, unknown>, at.join("."), file)
        : null;
      if (v instanceof ExtData) {
        throw new UserError(
          `${file}: ${at.join(".")} is msgpack extension ${v.type}, not an array`,
        );
      }
      if (!leaf) {
        if (v && typeof v === "object" && !Array.isArray(v)) {
          walk(v as Record<string, unknown>, at);
          continue;
        }
        throw new UserError(`${file}: ${at.join(".")} is ${JSON.stringify(v)}, not an array`);
      }
      addArray(out, at, leaf, file);
    }
  };
  walk(root as Record<string, unknown>, []);
  return out;
}

function addArray(out: Map<string, StoredTensor>, path: string[], a: FlaxArray, file: string) {
  const flaxName = path.join(".");
  const [width, dtype] = NUMPY[a.dtype] ?? [0, a.dtype];
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (!width || !a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new UserError(
      `${file}: ${flaxName}: unsupported array (dtype ${a.dtype}, shape [${a.shape}])`,
    );
  }
  if (a.bytes.length !== n * width) {
    throw new UserError(
      `${file}: ${flaxName}: shape [${a.shape}] ${a.dtype} needs ${
        n * width
      } bytes but the array holds ${a.bytes.length}`,
    );
  }
  const last = path[path.length - 1];
  const name = [
    ...path.slice(0, -1),
    ["kernel", "scale", "embedding"].includes(last) ? "weight" : last,
  ]
    .join(".");
  const float = ["float32", "float16", "bfloat16", "float64"].includes(a.dtype);
  let data = float ? toF32(a, n) : null;
  let shape = a.shape;
  if (last === "kernel" && shape.length === 2) {
    data = data && transpose(data, shape[0], shape[1]);
    shape = [shape[1], shape[0]];
  }
  if (out.has(name)) throw new UserError(`${file}: two arrays become ${name}`);
  out.set(name, { dtype, shape, data });
}
