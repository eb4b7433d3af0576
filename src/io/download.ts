// Downloads with a cache: Hugging Face hub model files (HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE or
// HF_HOME) and the UCI SMS Spam Collection. Every file goes to a temporary name and is renamed only
// when complete, so an interrupted download never leaves a corrupt cache entry.
//
// The hub cache has transformers' (huggingface_hub's) layout, so both tools share one cache:
//   models--ORG--NAME/refs/main            the commit the branch pointed at
//   models--ORG--NAME/snapshots/COMMIT/F   a relative symlink to ../../blobs/ETAG
//   models--ORG--NAME/blobs/ETAG           the file's bytes, named by its ETag (or SHA-256)
// (@huggingface/hub's downloadFileToCacheDir was considered: it needs the hub's /api/…/paths-info
// endpoint, which mirrors serving only resolve/ URLs lack, and files its snapshots per file commit
// rather than per branch commit as transformers does; so this module writes the layout itself.)
import { createHash } from "node:crypto";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { Progress } from "../train/progress.ts";
import { refuseOtherWeights } from "../lib/load.ts";

export const SMS_URL =
  "https://archive.ics.uci.edu/ml/machine-learning-databases/00228/smsspamcollection.zip";
const MODEL_FILES = {
  required: ["config.json"],
  optional: [
    "model.safetensors",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
  ],
};

export function hfHome(): string {
  return Deno.env.get("HF_HOME") ?? `${Deno.env.get("HOME") ?? "."}/.cache/huggingface`;
}

/** HF_HUB_CACHE, else HF_HOME/hub, as huggingface_hub resolves it. */
export function hubCache(): string {
  return Deno.env.get("HF_HUB_CACHE") ?? `${hfHome()}/hub`;
}

export function hubRepoDir(repoId: string): string {
  return `${hubCache()}/models--${repoId.replaceAll("/", "--")}`;
}

/** The snapshot folder refs/main points at (snapshots/main when there is no ref yet). */
export function hubCacheDir(repoId: string): string {
  const repo = hubRepoDir(repoId);
  let rev = "main";
  try {
    rev = Deno.readTextFileSync(`${repo}/refs/main`).trim() || "main";
  } catch { /* not cached yet */ }
  return `${repo}/snapshots/${rev}`;
}

export async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

export class HttpStatusError extends UserError {
  constructor(readonly url: string, readonly status: number) {
    super(`${url}: HTTP ${status}`);
  }
}

/** What a completed download says about the file: its ETag, SHA-256 and the repo commit. */
export interface Downloaded {
  etag: string | null;
  sha256: string;
  commit: string | null;
}

/** Streams url to file via a temporary; returns null on 404 when `optional`. */
export async function downloadFile(
  url: string,
  file: string,
  opts: { token?: string; optional?: boolean; quiet?: boolean } = {},
): Promise<Downloaded | null> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
    });
  } catch (e) {
    throw new UserError(`cannot reach ${url} (${(e as Error).message.split("\n")[0]})`);
  }
  if (res.status === 404 && opts.optional) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new HttpStatusError(url, res.status);
  }
  const total = Number(res.headers.get("content-length") ?? 0);
  const tmp = `${file}.${Deno.pid}.part`;
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")) || ".", { recursive: true });
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const bar = opts.quiet ? null : new Progress(`download ${url.split("/").pop()}`, total || 1);
  let received = 0;
  const hash = createHash("sha256");
  try {
    for await (const chunk of res.body) {
      await out.write(chunk);
      hash.update(chunk);
      received += chunk.length;
      bar?.update(Math.min(received, total || received), `${(received / 2 ** 20).toFixed(1)} MiB`);
    }
    out.close();
    if (total && received !== total) throw new Error(`got ${received} of ${total} bytes`);
  } catch (e) {
    try {
      out.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw new UserError(
      `download of ${url} was interrupted (${
        (e as Error).message.split("\n")[0]
      }); nothing was cached, run again`,
    );
  }
  bar?.finish();
  await Deno.rename(tmp, file);
  // The hub sends X-Linked-Etag (LFS files' SHA-256) and X-Repo-Commit, as huggingface_hub reads.
  const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag"))
    ?.replace(/^W\//, "").replaceAll('"', "") ?? null;
  return { etag, sha256: hash.digest("hex"), commit: res.headers.get("x-repo-commit") };
}

/** A hub repo's weights that this engine does not read: refused as they are, not as a failed download. */
class WeightsRefused extends Error {}

/** A hub model id resolved to a cached snapshot folder, downloading what is missing. */
export async function fetchHubModel(
  repoId: string,
  log: (m: string) => void = console.error,
): Promise<string> {
  const cached = hubCacheDir(repoId);
  if (await exists(`${cached}/config.json`)) return cached;
  const endpoint = (Deno.env.get("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/$/, "");
  const token = Deno.env.get("HF_TOKEN") ?? undefined;
  const repo = hubRepoDir(repoId);
  log(`downloading ${repoId} from ${endpoint} into ${repo}`);
  await Deno.mkdir(`${repo}/blobs`, { recursive: true });
  const got = new Map<string, Downloaded>();
  const incoming = (f: string) => `${repo}/blobs/${f}.incoming`;
  try {
    // config.json last: its presence in the snapshot marks a complete cache entry.
    for (const f of [...MODEL_FILES.optional, "config.json"]) {
      await Deno.remove(incoming(f)).catch(() => {});
      const d = await downloadFile(`${endpoint}/${repoId}/resolve/main/${f}`, incoming(f), {
        token,
        optional: f !== "config.json",
      });
      if (d) got.set(f, d);
    }
    if (!got.has("model.safetensors")) {
      await refuseOtherWeights(`${endpoint}/${repoId}/resolve/main`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      }).catch((e) => {
        throw new WeightsRefused((e as Error).message);
      });
    }
  } catch (e) {
    for (const f of got.keys()) await Deno.remove(incoming(f)).catch(() => {});
    if (e instanceof WeightsRefused) throw new UserError(e.message);
    const reason = e instanceof HttpStatusError && e.status === 404
      ? `${repoId} was not found on ${endpoint}`
      : (e as Error).message;
    throw new UserError(
      `${reason}; to work offline, download ${
        MODEL_FILES.required.concat(MODEL_FILES.optional).join(", ")
      } of ${repoId} into ${cached} or pass --model DIR`,
    );
  }
  const commit = got.get("config.json")!.commit ?? "main";
  const snapshot = `${repo}/snapshots/${commit}`;
  await Deno.mkdir(snapshot, { recursive: true });
  for (const f of [...MODEL_FILES.optional, "config.json"]) {
    const d = got.get(f);
    if (!d) continue;
    const blob = d.etag && /^[\w-]+$/.test(d.etag) ? d.etag : d.sha256;
    await Deno.rename(incoming(f), `${repo}/blobs/${blob}`);
    await Deno.remove(`${snapshot}/${f}`).catch(() => {});
    await Deno.symlink(`../../blobs/${blob}`, `${snapshot}/${f}`);
  }
  await Deno.mkdir(`${repo}/refs`, { recursive: true });
  await writeFileAtomic(`${repo}/refs/main`, commit);
  return snapshot;
}

export const SMS_MESSAGES = 5574;

/** The SMS Spam Collection zip: cached, or copied from a local mirror, or downloaded; verified. */
export async function fetchSmsZip(
  cacheDir: string,
  opts: { mirror?: string; url?: string; verify: (file: string) => Promise<number> },
): Promise<string> {
  const file = `${cacheDir}/smsspamcollection.zip`;
  if (await exists(file)) return file;
  const url = opts.url ?? Deno.env.get("SMS_DATA_URL") ?? SMS_URL;
  const incoming = `${file}.incoming`;
  if (opts.mirror && (await exists(opts.mirror))) {
    await Deno.mkdir(cacheDir, { recursive: true });
    await Deno.copyFile(opts.mirror, incoming);
    await Deno.chmod(incoming, 0o644); // the mirror may be read-only; the cache entry is ours
  } else {
    try {
      await downloadFile(url, incoming);
    } catch (e) {
      throw new UserError(
        `${
          (e as Error).message
        }; download ${url} yourself and put it at ${file}, or pass --data FILE`,
      );
    }
  }
  let lines = -1;
  try {
    lines = await opts.verify(incoming);
  } catch { /* reported below */ }
  if (lines !== SMS_MESSAGES) {
    await Deno.remove(incoming).catch(() => {});
    throw new UserError(
      `${url}: the download is not the SMS Spam Collection (expected ${SMS_MESSAGES} messages, found ${
        lines < 0 ? "an unreadable file" : lines
      }); nothing was cached`,
    );
  }
  await Deno.rename(incoming, file);
  return file;
}
