// The npm package (deno task build:npm): built into a temporary folder, its package.json agrees
// with deno.json, its bundle has no Deno API and no node: import, Node imports it, and a
// TypeScript consumer type-checks against its declarations. No training: Node has no WebGPU.
import assert from "node:assert/strict";
import ts from "typescript";
import { buildNpm } from "../tools/build_npm.ts";

const root = new URL("../", import.meta.url).pathname;
const NODE = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

Deno.test({
  name: "npm package: package.json from deno.json, a portable bundle, Node imports it, types check",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const tmp = await Deno.makeTempDir({ prefix: "webgpu-bert-npm-" });
    try {
      // Installed as a consumer would have it: node_modules/webgpu-bert and its dependencies.
      const pkgDir = `${tmp}/node_modules/webgpu-bert`;
      await Deno.mkdir(`${tmp}/node_modules/@webgpu`, { recursive: true });
      await buildNpm(pkgDir);
      const deno = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
      const pkg = JSON.parse(await Deno.readTextFile(`${pkgDir}/package.json`));

      await t.step(
        "package.json: name, version, license, entry points, pinned dependencies",
        () => {
          assert.equal(pkg.name, "webgpu-bert");
          assert.equal(pkg.version, deno.version);
          assert.equal(pkg.license, deno.license);
          assert.equal(pkg.type, "module");
          assert.deepEqual(pkg.exports["."], { types: "./types/mod.d.ts", default: "./index.js" });
          for (const [name, version] of Object.entries(pkg.dependencies)) {
            assert.ok(
              Object.values(deno.imports).some((v) =>
                typeof v === "string" && v.startsWith(`npm:${name}@${version}`)
              ),
              `${name}@${version} is not what deno.json pins`,
            );
          }
          assert.ok("jsonc-parser" in pkg.dependencies, "the safetensors header parser");
          for (const f of ["index.js", "types/mod.d.ts", "LICENSE", "README.md"]) {
            assert.ok(Deno.statSync(`${pkgDir}/${f}`).isFile, f);
          }
          assert.equal(
            Deno.readTextFileSync(`${pkgDir}/LICENSE`),
            Deno.readTextFileSync(`${root}LICENSE`),
          );
        },
      );

      const js = await Deno.readTextFile(`${pkgDir}/index.js`);
      await t.step(
        "index.js: no Deno API, no node: import, shaders inlined, npm deps imported",
        () => {
          assert.doesNotMatch(js, /\bDeno\./);
          assert.doesNotMatch(js, /(from|import)\s*\(?\s*["']node:/);
          assert.doesNotMatch(js, /(from|import)\s*\(?\s*["'][^"']*\.wgsl["']/);
          assert.match(js, /@compute/, "a WGSL kernel's text");
          // esbuild writes the bundle's own imports as top-level statements, one per line.
          const imported = [...js.matchAll(/^import\b[^;\n]*["']([^"']+)["'];$/gm)].map((m) =>
            m[1]
          );
          assert.deepEqual(
            [...new Set(imported)].sort(),
            Object.keys(pkg.dependencies).filter((d) => d !== "@webgpu/types").sort(),
          );
        },
      );

      // Dependencies from the project's node_modules (laid out by buildNpm), as npm would.
      for (const dep of Object.keys(pkg.dependencies)) {
        await Deno.symlink(`${root}node_modules/${dep}`, `${tmp}/node_modules/${dep}`);
      }

      await t.step({
        name: "Node imports the package and sees the library's classes and functions",
        ignore: !NODE,
        fn: async () => {
          // No WebGPU in Node: initGpu must fail as NoAdapterError, the library's documented error.
          const script = `const m = await import("webgpu-bert");
const kinds = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v]));
kinds.initGpuError = await m.initGpu().then(() => "none", (e) => e.constructor.name);
console.log(JSON.stringify(kinds));`;
          const out = await new Deno.Command(NODE!, {
            args: ["--input-type=module", "-e", script],
            cwd: tmp,
            stdout: "piped",
            stderr: "piped",
          }).output();
          assert.ok(out.success, new TextDecoder().decode(out.stderr));
          const kinds = JSON.parse(new TextDecoder().decode(out.stdout));
          for (const name of ["loadFromFiles", "loadFromUrl", "loadFromHub", "TextClassifier"]) {
            assert.equal(kinds[name], "function", name);
          }
          assert.equal(kinds.BertTokenizer, "function");
          assert.equal(kinds.UserError, "function");
          assert.equal(kinds.initGpuError, "NoAdapterError");
        },
      });

      await t.step(
        "types: a TypeScript consumer type-checks against types/, and a misuse fails",
        () => {
          const good =
            `import { loadFromFiles, type Prediction, TextClassifier } from "webgpu-bert";
export async function f(files: Map<string, Uint8Array>): Promise<string> {
  const clf: TextClassifier = await loadFromFiles(files, { seed: 1 });
  const [p]: Prediction[] = await clf.predict(["hi"]);
  return p.label;
}
`;
          const bad = `import { loadFromFiles } from "webgpu-bert";
export const x: Promise<number> = loadFromFiles(new Map());
`;
          const check = (text: string) => {
            const file = `${tmp}/consumer.ts`;
            Deno.writeTextFileSync(file, text);
            const program = ts.createProgram([file], {
              strict: true,
              noEmit: true,
              target: ts.ScriptTarget.ES2022,
              module: ts.ModuleKind.NodeNext,
              moduleResolution: ts.ModuleResolutionKind.NodeNext,
              lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
              types: [],
            });
            return ts.getPreEmitDiagnostics(program).map((d) =>
              ts.flattenDiagnosticMessageText(d.messageText, "\n")
            );
          };
          assert.deepEqual(check(good), []);
          const errors = check(bad);
          assert.equal(errors.length, 1, errors.join("\n"));
          assert.match(errors[0], /TextClassifier/);
        },
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
