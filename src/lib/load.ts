// Loading a TextClassifier without a file system: from files in memory (a browser's file
// picker), from URLs (a folder served over HTTP) and from a Hugging Face hub id, through plain
// fetch and, when given, a Cache API cache (the browser's `caches`) so a second load needs no
// network. Deno's folder and HF-cache loader is src/lib/deno.ts.
import { UserError } from "../errors.ts";
import {
  OTHER_WEIGHTS,
  otherWeightsProblem,
  parseCheckpoint,
  TOKENIZER_FILES,
} from "../bert/checkpoint_files.ts";
import { TextClassifier } from "./classifier.ts";

/** The files a model folder may hold that the engine reads: config.json first, it is required. */
export const MODEL_FILES = ["config.json", "model.safetensors", ...TOKENIZER_FILES];

export interface LoadOptions {
  /** Seeds a fresh classifier when the weights have none, or all weights when absent (42). */
  seed?: number;
  /** Warnings and notes (unused tensors, a fresh head); default console.error. */
  warn?: (msg: string) => void;
}

/** The part of the Cache API a loader uses (`await caches.open(name)` in a browser). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
}

export interface FetchOptions {
  /** The fetch to use (default globalThis.fetch): tests and proxies inject their own. */
  fetch?: typeof fetch;
  /** A cache consulted before the network and filled after it; default none. */
  cache?: CacheLike | null;
  /** Extra request headers (e.g. Authorization: Bearer <token> for a gated hub model). */
  headers?: Record<string, string>;
  /** Called as each file arrives, with its name and size in bytes. */
  onFile?: (name: string, bytes: number) => void;
}

/**
 * A model from its files in memory (name → bytes: config.json, vocab.txt or tokenizer.json,
 * tokenizer_config.json, model.safetensors), read with every check a folder gets.
 * @param source names the files in errors (default "model files").
 * @throws UserError naming the file and the problem.
 */
export async function loadFromFiles(
  files: Map<string, Uint8Array>,
  opts: LoadOptions & { source?: string } = {},
): Promise<TextClassifier> {
  const ck = await parseCheckpoint(files, {
    seed: opts.seed ?? 42,
    source: opts.source,
    warn: opts.warn,
  });
  const tokenizerFiles = new Map(
    TOKENIZER_FILES.filter((f) => files.has(f)).map((f) => [f, files.get(f)!]),
  );
  return new TextClassifier(ck, tokenizerFiles);
}

/**
 * Where the cache notes that an optional file is absent: `<folder>/.no_exist/<file>`, as
 * huggingface_hub's cache does, under a URL of its own so any CacheLike (one that keeps only
 * bytes, not statuses) can hold it. Without it a cached model would ask for its absent files at
 * every load, and fail to load offline.
 */
const absentMarker = (url: string) => url.replace(/\/([^/]*)$/, "/.no_exist/$1");

/** Whether the cache notes `url` as absent (an earlier 404). */
async function knownAbsent(url: string, opts: FetchOptions): Promise<boolean> {
  const absent = await opts.cache?.match(absentMarker(url));
  await absent?.body?.cancel();
  return Boolean(absent);
}

/** One file by URL, from the cache when it holds it; null on 404 when `optional`. */
async function fetchFile(
  url: string,
  optional: boolean,
  opts: FetchOptions,
): Promise<Uint8Array | null> {
  const cached = await opts.cache?.match(url);
  if (cached) return new Uint8Array(await cached.arrayBuffer());
  if (optional && await knownAbsent(url, opts)) return null;
  const get = opts.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await get(url, { headers: opts.headers ?? {} });
  } catch (e) {
    throw new UserError(`cannot reach ${url} (${(e as Error).message.split("\n")[0]})`);
  }
  if (res.status === 404 && optional) {
    await res.body?.cancel();
    await opts.cache?.put(absentMarker(url), new Response(""));
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UserError(`${url}: HTTP ${res.status}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  // Cached only once whole: a fresh Response, as the body of `res` has been read.
  await opts.cache?.put(url, new Response(bytes, { headers: res.headers }));
  return bytes;
}

/**
 * A model folder's files fetched from `base` (a URL ending in the folder: base + "/config.json"
 * …), or from an explicit map name → URL. From a base, config.json is required and the other
 * MODEL_FILES are fetched when present (a 404 skips them); from a map, every URL must answer.
 * @throws UserError naming the URL that failed (unreachable, HTTP status).
 */
export async function fetchModelFiles(
  base: string | Record<string, string>,
  opts: FetchOptions = {},
): Promise<Map<string, Uint8Array>> {
  const urls: [string, string, boolean][] = typeof base === "string"
    ? MODEL_FILES.map((f) => [f, `${base.replace(/\/+$/, "")}/${f}`, f !== "config.json"])
    : Object.entries(base).map(([f, u]) => [f, u, false]);
  const files = new Map<string, Uint8Array>();
  for (const [name, url, optional] of urls) {
    const bytes = await fetchFile(url, optional, opts);
    if (!bytes) continue;
    files.set(name, bytes);
    opts.onFile?.(name, bytes.length);
  }
  if (typeof base === "string" && !files.has("model.safetensors")) {
    await refuseOtherWeights(base, opts);
  }
  return files;
}

/**
 * Without model.safetensors a model would train from a random init: this refuses instead when
 * the folder at `base` holds weights in a form not fetched here (a PyTorch-only hub repo, say),
 * found by HEAD requests (OTHER_WEIGHTS), so the commands' hub cache and loadFromUrl/loadFromHub
 * refuse the same files.
 * @throws UserError naming the file's URL and what to do.
 */
export async function refuseOtherWeights(base: string, opts: FetchOptions = {}): Promise<void> {
  for (const name of OTHER_WEIGHTS) {
    const url = `${base.replace(/\/+$/, "")}/${name}`;
    if (await present(url, opts)) {
      throw new UserError(`${url}: ${otherWeightsProblem(name, "url")}`);
    }
  }
}

/**
 * Whether `url` answers (a HEAD request), for files only probed, not fetched. A 404 is noted in
 * the cache as fetchFile notes it; any other failure counts as absent (a server without HEAD).
 */
async function present(url: string, opts: FetchOptions): Promise<boolean> {
  const cached = await opts.cache?.match(url);
  if (cached) {
    await cached.body?.cancel();
    return true;
  }
  if (await knownAbsent(url, opts)) return false;
  let res: Response;
  try {
    res = await (opts.fetch ?? globalThis.fetch)(url, {
      method: "HEAD",
      headers: opts.headers ?? {},
    });
  } catch (e) {
    throw new UserError(`cannot reach ${url} (${(e as Error).message.split("\n")[0]})`);
  }
  await res.body?.cancel();
  if (res.status === 404) await opts.cache?.put(absentMarker(url), new Response(""));
  return res.ok;
}

/**
 * A model served over HTTP: `fetchModelFiles(base)` then `loadFromFiles`; errors name the URLs.
 * @param base a folder URL, or a map file name → URL.
 */
export async function loadFromUrl(
  base: string | Record<string, string>,
  opts: LoadOptions & FetchOptions = {},
): Promise<TextClassifier> {
  const files = await fetchModelFiles(base, opts);
  const source = typeof base === "string" ? base.replace(/\/+$/, "") : "model files";
  return await loadFromFiles(files, { ...opts, source });
}

export interface HubOptions extends LoadOptions, FetchOptions {
  /** The hub's address (default https://huggingface.co, as HF_ENDPOINT). */
  endpoint?: string;
  /** A branch, tag or commit (default "main"). */
  revision?: string;
  /** An access token for gated or private models (sent as Authorization: Bearer). */
  token?: string;
}

/**
 * A Hugging Face hub model by id (bert-base-uncased, google/bert_uncased_L-2_H-128_A-2): its
 * files from `<endpoint>/<id>/resolve/<revision>/<file>`, through `cache` when given. The
 * classifier's source is the id (an adapter's base_model_name_or_path).
 * @throws UserError when the id is malformed, the model is not on the hub, or a file fails.
 */
export async function loadFromHub(repoId: string, opts: HubOptions = {}): Promise<TextClassifier> {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repoId) || repoId.startsWith(".")) {
    throw new UserError(`${repoId}: not a hub model id (name or org/name)`);
  }
  const endpoint = (opts.endpoint ?? "https://huggingface.co").replace(/\/+$/, "");
  const revision = encodeURIComponent(opts.revision ?? "main");
  const headers = {
    ...opts.headers,
    ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
  };
  let files: Map<string, Uint8Array>;
  try {
    files = await fetchModelFiles(`${endpoint}/${repoId}/resolve/${revision}`, {
      ...opts,
      headers,
    });
  } catch (e) {
    if (e instanceof UserError && /\/config\.json: HTTP 404$/.test(e.message)) {
      throw new UserError(`${repoId} was not found on ${endpoint}`);
    }
    throw e;
  }
  return await loadFromFiles(files, { ...opts, source: repoId });
}
