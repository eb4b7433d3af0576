// safetensors files: read (every rule of the format checked, safetensors_bytes.ts) and written
// atomically. The byte-level reader and writer live in safetensors_bytes.ts (no file system).
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import {
  type NamedTensor,
  parseSafetensors,
  serializeSafetensors,
  type StoredTensor,
} from "./safetensors_bytes.ts";

export {
  FLOAT_DTYPES,
  type NamedTensor,
  parseSafetensors,
  serializeSafetensors,
  type StoredTensor,
} from "./safetensors_bytes.ts";

/**
 * Every tensor of a safetensors file, after its header passed every rule of the format
 * (safetensors_header.ts); floating-point tensors decoded to F32, the others with data null so
 * that the caller can name a tensor it needs but cannot use.
 * @throws UserError when the file is missing or breaks a rule of the format.
 */
export async function readSafetensorsAll(file: string): Promise<Map<string, StoredTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch {
    throw new UserError(`${file}: file not found`);
  }
  return parseSafetensors(bytes, file);
}

/** The floating-point tensors only; integer tensors (e.g. position_ids buffers) are skipped. */
export async function readSafetensors(file: string): Promise<Map<string, NamedTensor>> {
  const out = new Map<string, NamedTensor>();
  for (const [name, t] of await readSafetensorsAll(file)) {
    if (t.data) out.set(name, { shape: t.shape, data: t.data });
  }
  return out;
}

/** F32 tensors in the given order, keys sorted as the header requires none; written atomically. */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, NamedTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}
