/// <reference lib="dom" />
// A model from the Hugging Face hub, fetched once and kept in the browser's Cache API (the files
// of `https://huggingface.co/<id>/resolve/main/<file>`): a second load, even after a reload, makes
// no request.

const CACHE = "webgpu-bert-hub";
const ENDPOINT = "https://huggingface.co";

/** What a BERT folder may hold that the engine reads; config.json and weights are required. */
const FILES = ["config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"];
const WEIGHTS = "model.safetensors";

/** `bert-base-uncased` or `owner/name`, as the hub spells ids. */
export function checkHubId(id: string): string {
  const t = id.trim();
  if (!/^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(t)) {
    throw new Error(`"${id}" is not a hub id (owner/name, e.g. google/bert_uncased_L-2_H-128_A-2)`);
  }
  return t;
}

/** The bytes of `url`, from the cache or the network (then cached); null for a 404. */
async function cachedFetch(
  cache: Cache,
  url: string,
  onFetch: (url: string) => void,
): Promise<Uint8Array | null> {
  const hit = await cache.match(url);
  if (hit) return new Uint8Array(await hit.arrayBuffer());
  onFetch(url);
  const res = await fetch(url);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await cache.put(url, new Response(bytes, { headers: res.headers }));
  return bytes;
}

/**
 * The model files of hub id `id` by name. Throws when config.json or model.safetensors is missing
 * (a model without safetensors weights cannot be read in the page), or on a network error.
 * @param onFetch called before each network request (for the status line).
 */
export async function fetchHubModel(
  id: string,
  onFetch: (url: string) => void = () => {},
  endpoint = ENDPOINT,
): Promise<Map<string, Uint8Array>> {
  id = checkHubId(id);
  const cache = await caches.open(CACHE);
  const files = new Map<string, Uint8Array>();
  for (const name of [...FILES, WEIGHTS]) {
    const bytes = await cachedFetch(cache, `${endpoint}/${id}/resolve/main/${name}`, onFetch);
    if (bytes) files.set(name, bytes);
    else if (name === "config.json" || name === WEIGHTS) {
      throw new Error(`${id}: the hub has no ${name} for this model`);
    }
  }
  return files;
}
