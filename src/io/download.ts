// Downloads with a cache: Hugging Face hub model files (HF_ENDPOINT, HF_TOKEN, HF_HOME) and the
// UCI SMS Spam Collection. Every file goes to a temporary name and is renamed only when complete,
// so an interrupted download never leaves a corrupt cache entry.
import { UserError } from "../errors.ts";
import { Progress } from "../train/progress.ts";

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

export function hubCacheDir(repoId: string): string {
  return `${hfHome()}/hub/models--${repoId.replaceAll("/", "--")}/snapshots/main`;
}

export async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

export class HttpStatusError extends UserError {
  constructor(readonly url: string, readonly status: number) {
    super(`${url}: HTTP ${status}`);
  }
}

/** Streams url to file via file.tmp; returns false on 404 when `optional`. */
export async function downloadFile(
  url: string,
  file: string,
  opts: { token?: string; optional?: boolean; quiet?: boolean } = {},
): Promise<boolean> {
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
    return false;
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
  try {
    for await (const chunk of res.body) {
      await out.write(chunk);
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
  return true;
}

/** A hub model id resolved to a cached folder, downloading what is missing. */
export async function fetchHubModel(
  repoId: string,
  log: (m: string) => void = console.error,
): Promise<string> {
  const dir = hubCacheDir(repoId);
  if (await exists(`${dir}/config.json`)) return dir;
  const endpoint = (Deno.env.get("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/$/, "");
  const token = Deno.env.get("HF_TOKEN") ?? undefined;
  log(`downloading ${repoId} from ${endpoint} into ${dir}`);
  for (const f of [...MODEL_FILES.optional, "config.json"]) {
    await Deno.remove(`${dir}/${f}.incoming`).catch(() => {});
  }
  try {
    for (const f of MODEL_FILES.optional) {
      await downloadFile(`${endpoint}/${repoId}/resolve/main/${f}`, `${dir}/${f}.incoming`, {
        token,
        optional: true,
      });
    }
    // config.json last: its presence marks a complete cache entry.
    await downloadFile(
      `${endpoint}/${repoId}/resolve/main/config.json`,
      `${dir}/config.json.incoming`,
      { token },
    );
  } catch (e) {
    const reason = e instanceof HttpStatusError && e.status === 404
      ? `${repoId} was not found on ${endpoint}`
      : (e as Error).message;
    throw new UserError(
      `${reason}; to work offline, download ${
        MODEL_FILES.required.concat(MODEL_FILES.optional).join(", ")
      } of ${repoId} into ${dir} or pass --model DIR`,
    );
  }
  for (const f of [...MODEL_FILES.optional, "config.json"]) {
    if (await exists(`${dir}/${f}.incoming`)) {
      await Deno.rename(`${dir}/${f}.incoming`, `${dir}/${f}`);
    }
  }
  return dir;
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
