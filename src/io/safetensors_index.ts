// Sharded safetensors, as transformers writes them past `max_shard_size`:
// model.safetensors.index.json = {"metadata": {...}, "weight_map": {tensor name: shard file}},
// the shards beside it in the same folder.
import { dirname } from "node:path";
import { UserError } from "../errors.ts";
import { readSafetensorsAll, type StoredTensor } from "./safetensors.ts";

/** A tensor and the file it was read from (for error messages). */
export interface SourcedTensor extends StoredTensor {
  file: string;
}

/**
 * Reads every shard an index names, each validated as a safetensors file.
 * Checks that weight_map maps names to plain file names in the index's folder, that every shard
 * exists, that every tensor the index names is in the shard it names, and that no shard holds a
 * tensor the index places in another shard (the same name twice).
 * @throws UserError naming the index or the shard and the tensor.
 */
export async function readShardedSafetensors(
  indexFile: string,
): Promise<Map<string, SourcedTensor>> {
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(await Deno.readTextFile(indexFile));
  } catch (e) {
    throw new UserError(
      `${indexFile}: ${e instanceof Deno.errors.NotFound ? "not found" : "not valid JSON"}`,
    );
  }
  const map = index?.weight_map;
  if (!map || typeof map !== "object" || Array.isArray(map)) {
    throw new UserError(`${indexFile}: no "weight_map" object (tensor name → shard file)`);
  }
  const shards = new Map<string, string[]>(); // shard file → tensor names it should hold
  for (const [name, shard] of Object.entries(map)) {
    // A name with a path separator could read any file on the machine: refuse it.
    if (typeof shard !== "string" || !shard || /[\\/]/.test(shard) || shard.startsWith(".")) {
      throw new UserError(
        `${indexFile}: weight_map["${name}"] must be a shard file name in the same folder, found ${
          JSON.stringify(shard)
        }`,
      );
    }
    shards.set(shard, [...(shards.get(shard) ?? []), name]);
  }
  const dir = dirname(indexFile);
  for (const [shard, names] of shards) {
    try {
      await Deno.stat(`${dir}/${shard}`);
    } catch {
      throw new UserError(
        `${indexFile}: shard ${shard} (holding ${names[0]}${
          names.length > 1 ? ` and ${names.length - 1} more` : ""
        }) is missing`,
      );
    }
  }
  const out = new Map<string, SourcedTensor>();
  for (const [shard, names] of shards) {
    const file = `${dir}/${shard}`;
    const tensors = await readSafetensorsAll(file);
    for (const name of names) {
      if (!tensors.has(name)) {
        throw new UserError(
          `${file}: tensor ${name} is not in this shard, where ${indexFile} places it`,
        );
      }
    }
    for (const [name, t] of tensors) {
      const placed = (map as Record<string, string>)[name];
      if (placed !== undefined && placed !== shard) {
        throw new UserError(
          `${file}: holds tensor ${name}, which ${indexFile} places in ${placed}: two copies`,
        );
      }
      const other = out.get(name);
      if (other) {
        throw new UserError(`${file}: holds tensor ${name}, which ${other.file} holds too`);
      }
      // A tensor the index does not list is kept, as transformers loads every key of a shard.
      out.set(name, { ...t, file });
    }
  }
  return out;
}
