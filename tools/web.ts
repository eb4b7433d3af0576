// deno task web [--port N] [--hostname H]
// Builds the web page (web/index.html, web/main.ts, web/worker.ts) with esbuild and serves it on
// 127.0.0.1 (a secure context, so the page gets WebGPU). The bundle is built once at start and held
// in memory; nothing is written to disk.
import * as esbuild from "esbuild";
import { runCommand } from "../src/cli/common.ts";
import type { CommandSpec, FlagTable } from "../src/cli/flags.ts";
import { UserError } from "../src/errors.ts";
import { ensureNodeModules } from "./browser.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const WEB = `${ROOT}web/`;

/** A file the server answers with: its bytes (or text) and content type. */
export interface WebFile {
  body: string;
  type: string;
}

/** The page's files by URL path: `/` (index.html), `/main.js`, `/worker.js`. */
export async function buildWeb(): Promise<Map<string, WebFile>> {
  await ensureNodeModules();
  let out: esbuild.BuildResult & { outputFiles: esbuild.OutputFile[] };
  try {
    out = await esbuild.build({
      entryPoints: { main: `${WEB}main.ts`, worker: `${WEB}worker.ts` },
      bundle: true,
      write: false,
      outdir: "/out",
      format: "esm",
      platform: "browser",
      target: "es2022",
      define: { "process.env.NODE_DEBUG": "false", global: "globalThis" },
      // csv-parse's own browser build: the same parser with its Buffer polyfill bundled.
      alias: { "csv-parse/sync": "csv-parse/browser/esm/sync" },
      logLevel: "silent",
    });
  } finally {
    await esbuild.stop();
  }
  const files = new Map<string, WebFile>([
    ["/", { body: await Deno.readTextFile(`${WEB}index.html`), type: "text/html; charset=utf-8" }],
  ]);
  for (const f of out.outputFiles) {
    files.set(`/${f.path.split("/").pop()}`, {
      body: f.text,
      type: "text/javascript; charset=utf-8",
    });
  }
  return files;
}

/**
 * Serves `files`; anything else is `other`'s answer (the tests serve a stand-in hub), else 404.
 * `port` 0 picks a free one.
 */
export function serveWeb(
  files: Map<string, WebFile>,
  opts: {
    hostname?: string;
    port?: number;
    onListen?: (url: string) => void;
    other?: (req: Request) => Promise<Response | null>;
  } = {},
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: opts.hostname ?? "127.0.0.1",
    port: opts.port ?? 0,
    onListen: (a) => opts.onListen?.(`http://${a.hostname}:${a.port}/`),
  }, async (req) => {
    const path = new URL(req.url).pathname;
    const f = files.get(path === "/index.html" ? "/" : path);
    if (!f) return (await opts.other?.(req)) ?? new Response("not found", { status: 404 });
    return new Response(f.body, {
      headers: { "content-type": f.type, "cache-control": "no-cache" },
    });
  });
}

const WEB_COMMAND = {
  name: "web",
  summary: "Builds the web page (web/) with esbuild and serves it; training runs in the browser.",
  flags: {
    port: {
      type: "int",
      default: 8000,
      min: 0,
      max: 65535,
      help: "the port to serve on (0: any free one; the URL is printed)",
    },
    hostname: {
      type: "string",
      default: "127.0.0.1",
      arg: "HOST",
      help: "the address to serve on",
    },
  },
  examples: ["--port 9000", "--port 0"],
} as const satisfies CommandSpec<FlagTable>;

if (import.meta.main) {
  await runCommand(WEB_COMMAND, async ({ values: v }) => {
    const files = await buildWeb();
    let server;
    try {
      server = serveWeb(files, {
        hostname: v.hostname,
        port: v.port,
        onListen: (url) => console.log(`webgpu-bert web page: ${url} (Ctrl-C stops)`),
      });
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
      throw new UserError(
        `${v.hostname}:${v.port} is in use (another server?); pick another with --port N (0: any free one)`,
      );
    }
    await server.finished;
  });
}
