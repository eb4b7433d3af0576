// The kernel tuner's choices on disk (Deno): $XDG_CACHE_HOME/webgpu-bert/kernel_choices.json,
// default ~/.cache, one entry per GPU adapter and driver and model shape (src/ops/tune.ts).
import { writeJsonAtomic } from "./atomic.ts";
import type { ChoiceCache, ChoiceStore } from "../ops/tune.ts";

/** The cache file's path under XDG_CACHE_HOME (or ~/.cache). */
export function kernelCacheFile(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.cache`;
  return `${base}/webgpu-bert/kernel_choices.json`;
}

/** A ChoiceStore in `file` (JSON, written atomically; a missing file reads as empty). */
export function fileChoiceStore(file = kernelCacheFile()): ChoiceStore {
  return {
    read: async () => JSON.parse(await Deno.readTextFile(file)) as ChoiceCache,
    write: async (cache) => {
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      await writeJsonAtomic(file, cache);
    },
  };
}
