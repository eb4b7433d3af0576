// Runs a TypeScript entry module inside headless Chromium: bundled with esbuild, served on
// 127.0.0.1 by Deno.serve, driven by puppeteer-core. The entry sets `globalThis.__result` (any
// JSON value) when it is done, or `globalThis.__error` (a string) when it fails. Used by
// tests/browser_test.ts (the op gradient checks) and bench/browser.ts (the training step).
import * as esbuild from "esbuild";
import puppeteer from "puppeteer-core";

/** Debian's and Ubuntu's system Chromium; null when neither is installed. */
export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}) ?? null;

/**
 * WebGPU on in headless Chromium: --enable-unsafe-webgpu (Linux ships it behind a flag), Vulkan
 * (its SwiftShader adapter when no GPU), and no GPU sandbox (the sandbox needs namespaces this
 * container lacks). Background services off so nothing reaches the network.
 */
export const FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-vulkan=native",
  "--disable-gpu-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * node:assert/strict for the page: the npm `assert` package (Node's assert ported to browsers),
 * so shared tests keep their Node-style assertions.
 */
export const nodeAssert: esbuild.Plugin = {
  name: "node-assert",
  setup(build) {
    build.onResolve({ filter: /^node:assert(\/strict)?$/ }, () => ({
      path: "assert",
      namespace: "node-assert",
    }));
    build.onLoad({ filter: /.*/, namespace: "node-assert" }, () => ({
      contents: `import assert from "assert"; export default assert.strict;`,
      resolveDir: ROOT,
    }));
  },
};

/**
 * esbuild (and tsc, for the npm package) resolves npm packages (the page's `assert`, or those
 * `packages` names) from a node_modules folder. The project keeps none by default (deno.json
 * nodeModulesDir "none", so commands stay quiet), so the first bundle lays one out from Deno's npm
 * cache (git ignores it).
 */
export async function ensureNodeModules(packages: string[] = ["assert"]): Promise<void> {
  try {
    for (const p of packages) await Deno.stat(`${ROOT}node_modules/${p}/package.json`);
    return;
  } catch { /* not laid out yet */ }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["install", "--quiet", "--node-modules-dir=auto"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `deno install for the bundle failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** One ES module holding the entry and everything it imports (shaders as text). */
export async function bundle(entry: string): Promise<string> {
  await ensureNodeModules();
  try {
    const out = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      // npm `assert` reads process.env.NODE_DEBUG through its util polyfill.
      define: { "process.env.NODE_DEBUG": "false", global: "globalThis" },
      plugins: [nodeAssert],
      logLevel: "silent",
    });
    return out.outputFiles[0].text;
  } finally {
    await esbuild.stop();
  }
}

export interface BrowserRun<T> {
  result: T;
  /** What the page printed (console messages), in order. */
  console: string[];
}

/**
 * Bundles `entry`, opens it (with `query` as the URL's search parameters) in a fresh headless
 * Chromium profile and returns its `__result`.
 * Throws when Chromium is absent, the page throws, or `timeoutMs` passes.
 */
export async function runInChromium<T>(
  entry: string,
  opts: { timeoutMs: number; query?: Record<string, string>; onConsole?: (line: string) => void },
): Promise<BrowserRun<T>> {
  if (!CHROMIUM) throw new Error("chromium is not installed (apt-get install chromium)");
  const js = await bundle(entry);
  const html =
    `<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>`;
  // A page served over http://127.0.0.1 is a secure context; about:blank gets no adapter.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/main.js") {
      return new Response(js, { headers: { "content-type": "text/javascript" } });
    }
    if (path === "/") return new Response(html, { headers: { "content-type": "text/html" } });
    return new Response("not found", { status: 404 });
  });
  const profile = await Deno.makeTempDir({ prefix: "webgpu-bert-chromium-" });
  const lines: string[] = [];
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, `--user-data-dir=${profile}`],
    ignoreDefaultArgs: ["--disable-gpu"],
    protocolTimeout: opts.timeoutMs + 60_000,
  });
  try {
    const page = await browser.newPage();
    page.on("console", (m) => {
      const line = m.text();
      lines.push(line);
      opts.onConsole?.(line);
    });
    page.on("pageerror", (e) => lines.push(`pageerror: ${(e as Error).message ?? e}`));
    const search = new URLSearchParams(opts.query ?? {}).toString();
    await page.goto(`http://127.0.0.1:${server.addr.port}/${search ? `?${search}` : ""}`);
    const done = await page.waitForFunction(
      () => {
        const g = globalThis as { __result?: unknown; __error?: string };
        return g.__error !== undefined || g.__result !== undefined;
      },
      { timeout: opts.timeoutMs, polling: 500 },
    );
    await done.dispose();
    const { result, error } = await page.evaluate(() => {
      const g = globalThis as { __result?: unknown; __error?: string };
      return { result: g.__result, error: g.__error };
    });
    if (error !== undefined) throw new Error(`in Chromium: ${error}`);
    return { result: result as T, console: lines };
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}
