// The engine runs outside Deno (a browser bundle): its shaders are bundled as text, and no engine
// file touches Deno's API. File I/O lives in src/io, src/data, src/cli and the loaders.
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { SHADERS } from "../src/gpu/shaders.ts";

const root = new URL("../", import.meta.url);

/** The engine: what a browser bundle imports to build, train and run a model. */
const ENGINE = [
  "src/gpu",
  "src/ops",
  "src/autograd",
  "src/nn",
  "src/optim",
  "src/tensor.ts",
  "src/errors.ts",
  "src/bert/model.ts",
  "src/bert/params.ts",
  "src/bert/checkpoint_files.ts",
  "src/train/metrics.ts",
  // The library and the trainer: files, terminals and the hub cache come through hooks.
  "src/lib/classifier.ts",
  "src/lib/load.ts",
  "src/lib/options.ts",
  "src/train/trainer.ts",
  "src/train/resume_state.ts",
  "src/train/inference.ts",
  "src/train/selection.ts",
  "src/train/curves.ts",
  "src/train/class_weights.ts",
  "src/io/adapter_files.ts",
  "src/data/example.ts",
  "src/data/pairs.ts",
  "src/data/labels.ts",
];

function tsFiles(path: string): string[] {
  const url = new URL(path, root);
  if (Deno.statSync(url).isFile) return [path];
  return [...Deno.readDirSync(url)].filter((e) => e.name.endsWith(".ts")).map((e) =>
    `${path}/${e.name}`
  );
}

Deno.test("shaders: every shaders/*.wgsl is bundled in src/gpu/shaders.ts, byte for byte", () => {
  const files = [...Deno.readDirSync(new URL("shaders/", root))]
    .filter((e) => e.name.endsWith(".wgsl")).map((e) => e.name).sort();
  assert.deepEqual(Object.keys(SHADERS).sort(), files, "add a new shader to src/gpu/shaders.ts");
  for (const f of files) {
    assert.equal(SHADERS[f], Deno.readTextFileSync(new URL(`shaders/${f}`, root)), f);
  }
});

Deno.test("portable engine: no engine file uses Deno's API", () => {
  const offenders: string[] = [];
  for (const path of ENGINE.flatMap(tsFiles)) {
    const text = Deno.readTextFileSync(new URL(path, root));
    text.split("\n").forEach((line, i) => {
      if (/\bDeno\./.test(line.replace(/\/\/.*$/, ""))) offenders.push(`${path}:${i + 1}`);
    });
  }
  assert.deepEqual(offenders, [], `Deno.* in the engine: ${offenders.join(", ")}`);
});

/** node_modules for esbuild's npm resolution (jsonc-parser), laid out from Deno's npm cache. */
async function ensureNodeModules(): Promise<void> {
  try {
    await Deno.stat(new URL("node_modules/jsonc-parser/package.json", root));
    return;
  } catch { /* not laid out yet */ }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["install", "--quiet", "--node-modules-dir=auto"],
    cwd: root.pathname,
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

Deno.test({
  name:
    "portable library: mod.ts bundles for the browser, and no bundled src/ file uses Deno's API",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await ensureNodeModules();
    // Platform "browser": a node: built-in anywhere in the graph fails the build.
    const out = await esbuild.build({
      entryPoints: [new URL("mod.ts", root).pathname],
      absWorkingDir: root.pathname,
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "es2022",
      metafile: true,
      logLevel: "silent",
    }).finally(() => esbuild.stop());
    const inputs = Object.keys(out.metafile.inputs);
    assert.ok(inputs.includes("src/lib/classifier.ts") && inputs.includes("src/train/trainer.ts"));
    const offenders: string[] = [];
    for (const path of inputs.filter((p) => p.startsWith("src/") && p.endsWith(".ts"))) {
      const text = Deno.readTextFileSync(new URL(path, root));
      text.split("\n").forEach((line, i) => {
        if (/\bDeno\./.test(line.replace(/\/\/.*$/, ""))) offenders.push(`${path}:${i + 1}`);
      });
    }
    assert.deepEqual(offenders, [], `Deno.* in the browser bundle: ${offenders.join(", ")}`);
  },
});
