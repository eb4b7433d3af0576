// safetensors as bytes: an 8-byte little-endian header length, a JSON header of
// {name: {dtype, shape, data_offsets: [begin, end]}} (plus optional __metadata__), then the data.
// The header is validated first (safetensors_header.ts); F32 is read as is, F16, BF16 and F64
// are converted to F32. No file system here (a browser bundle imports it); safetensors.ts adds
// reading and writing files.
import { parseSafetensorsHeader } from "./safetensors_header.ts";

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/** A tensor as stored; data is null for dtypes the engine does not read (integers, FP8, …). */
export interface StoredTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | null;
}

/** The floating-point dtypes the engine reads, widened to F32. */
export const FLOAT_DTYPES = ["F32", "F16", "BF16", "F64"];

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

/**
 * The tensors of a safetensors file already in memory (a browser's file or fetch); `file` names them in
 * errors.
 * @throws UserError when the bytes break a rule of the format.
 */
export function parseSafetensors(bytes: Uint8Array, file: string): Map<string, StoredTensor> {
  const { dataStart, tensors } = parseSafetensorsHeader(bytes, file);
  const out = new Map<string, StoredTensor>();
  for (const [name, { dtype, shape, begin, end }] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = FLOAT_DTYPES.includes(dtype)
      ? decode(dtype, bytes.subarray(dataStart + begin, dataStart + end), n)
      : null;
    out.set(name, { dtype, shape, data });
  }
  return out;
}

/** The bytes writeSafetensors writes (a browser's download). */
export function serializeSafetensors(
  tensors: Map<string, NamedTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
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
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Data starts 8-byte aligned: the header is padded with spaces, counted in bytes (UTF-8).
  const headerBytes = new Uint8Array(json.length + (8 - json.length % 8) % 8).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}
