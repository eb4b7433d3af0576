// `deno task build:npm [--out DIR]`: the npm package of the library's portable entry (mod.ts),
// written to a temporary folder beside DIR (default npm/) and renamed over it. The folder holds
// index.js (one ES module by esbuild, shaders inlined as text, npm packages left as imports and
// listed as dependencies at the versions deno.json pins), types/ (declarations by TypeScript's
// compiler, .ts specifiers rewritten to .js), package.json, LICENSE and README.md.
// tests/npm_test.ts builds it, imports it in Node and type-checks a consumer against it.
import * as esbuild from "esbuild";
import ts from "typescript";
import { runCommand } from "../src/cli/common.ts";
import type { CommandSpec, FlagTable } from "../src/cli/flags.ts";
import { UserError } from "../src/errors.ts";
import { writeDirAtomic } from "../src/train/checkpointing.ts";
import { ensureNodeModules } from "./browser.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Declarations use WebGPU's types (GPUBuffer, GPUDevice): consumers get them from this package. */
const GPU_TYPES = "@webgpu/types";

interface DenoJson {
  name: string;
  version: string;
  license: string;
  imports: Record<string, string>;
}

/** `lodash/fp` → `lodash`, `@scope/pkg/sub` → `@scope/pkg`. */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The version deno.json's imports pin for npm package `name` (`npm:name@1.2.3[/sub]`). */
export function pinnedVersion(deno: DenoJson, name: string): string {
  for (const target of Object.values(deno.imports)) {
    const m = /^npm:(@?[^@]+)@([^/]+)/.exec(target);
    if (m && m[1] === name) return m[2];
  }
  throw new UserError(`deno.json: no npm:${name}@<version> in imports (the npm bundle needs one)`);
}

/** index.js: mod.ts and its src/ and shaders/ as one ES module; npm packages stay imports. */
async function bundle(): Promise<{ js: string; externals: string[] }> {
  try {
    const out = await esbuild.build({
      entryPoints: [`${ROOT}mod.ts`],
      absWorkingDir: ROOT,
      bundle: true,
      write: false,
      format: "esm",
      // The browser platform: a node: built-in anywhere in the graph fails the build.
      platform: "browser",
      target: "es2022",
      packages: "external",
      // A module's `if (import.meta.main)` command block (tools/gen_matmul_vec4.ts, which writes
      // with Deno's API) is dead in a library: false, and removed by the syntax minifier (names
      // and whitespace are kept, so the bundle stays readable).
      define: { "import.meta.main": "false" },
      minifySyntax: true,
      outfile: "index.js",
      metafile: true,
      logLevel: "silent",
    });
    const imports = Object.values(out.metafile.outputs).flatMap((o) => o.imports);
    const externals = [...new Set(imports.filter((i) => i.external).map((i) => i.path))];
    return { js: out.outputFiles[0].text, externals };
  } finally {
    await esbuild.stop();
  }
}

/**
 * types/: one .d.ts per source file reached from mod.ts (TypeScript's declaration emit). Relative
 * `.ts` specifiers become `.js` (a consumer's tsc resolves them to the .d.ts beside). Errors in
 * function bodies are deno check's business (Deno's globals are absent here); only errors of the
 * declaration emit itself fail the build.
 */
function declarations(): Map<string, string> {
  const shim = `${ROOT}node_modules/.webgpu-bert-wgsl.d.ts`;
  Deno.writeTextFileSync(
    shim,
    `declare module "*.wgsl" {\n  const text: string;\n  export default text;\n}\n`,
  );
  let result: ts.EmitResult;
  const files = new Map<string, string>();
  try {
    const program = ts.createProgram({
      rootNames: [`${ROOT}mod.ts`, shim, `${ROOT}node_modules/${GPU_TYPES}/dist/index.d.ts`],
      options: {
        declaration: true,
        emitDeclarationOnly: true,
        allowImportingTsExtensions: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
        types: [],
        strict: true,
        skipLibCheck: true,
        rootDir: ROOT,
        outDir: `${ROOT}types`,
      },
    });
    result = program.emit(
      undefined,
      (name, text) => {
        if (!name.startsWith(`${ROOT}types/`)) return;
        const fixed = text.replace(
          /((?:from|import)\s*\(?\s*["']\.{1,2}\/[^"']*)\.ts(["'])/g,
          "$1.js$2",
        );
        files.set(name.slice(`${ROOT}types/`.length), fixed);
      },
      undefined,
      true,
    );
  } finally {
    Deno.removeSync(shim);
  }
  if (result.diagnostics.length > 0) {
    const first = ts.flattenDiagnosticMessageText(result.diagnostics[0].messageText, "\n");
    throw new Error(`declaration emit failed: ${first}`);
  }
  const entry = files.get("mod.d.ts");
  if (!entry) throw new Error("declaration emit wrote no mod.d.ts");
  files.set("mod.d.ts", `/// <reference types="${GPU_TYPES}" />\n${entry}`);
  return files;
}

/** package.json: name without the JSR scope, version and license from deno.json. */
export function packageJson(deno: DenoJson, externals: string[]): Record<string, unknown> {
  const deps = [...new Set([...externals.map(packageName), GPU_TYPES])].sort();
  return {
    name: deno.name.replace(/^@[^/]+\//, ""),
    version: deno.version,
    description:
      "Fine-tune BERT encoders for text classification (full, head or LoRA) on WebGPU, in a browser or Deno",
    license: deno.license,
    type: "module",
    main: "./index.js",
    types: "./types/mod.d.ts",
    exports: { ".": { types: "./types/mod.d.ts", default: "./index.js" } },
    files: ["index.js", "types/", "LICENSE", "README.md"],
    dependencies: Object.fromEntries(deps.map((d) => [d, pinnedVersion(deno, d)])),
  };
}

const README = `# webgpu-bert

Fine-tune BERT encoders for text classification (full, head or LoRA) on WebGPU, evaluate, predict,
and save a transformers checkpoint or a PEFT adapter, in a browser (or any runtime with
\`navigator.gpu\`). This package is the library entry \`mod.ts\` of the webgpu-bert project as one ES
module with TypeScript declarations; its README's "Library" section documents the API.

\`\`\`js
import { loadFromUrl } from "webgpu-bert";
const clf = await loadFromUrl("http://127.0.0.1:8000/bert-tiny", { seed: 42 });
\`\`\`

Built by \`deno task build:npm\` from the project's sources. License: MIT.
`;

/** Builds the package into `out` (temporary folder, then renamed over it). */
export async function buildNpm(out: string): Promise<void> {
  await ensureNodeModules([GPU_TYPES, "jsonc-parser"]);
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as DenoJson;
  const { js, externals } = await bundle();
  const types = declarations();
  const pkg = packageJson(deno, externals);
  const license = await Deno.readFile(`${ROOT}LICENSE`);
  await writeDirAtomic(out, async (tmp) => {
    await Deno.writeTextFile(`${tmp}/index.js`, js);
    for (const [name, text] of types) {
      const file = `${tmp}/types/${name}`;
      await Deno.mkdir(file.replace(/\/[^/]*$/, ""), { recursive: true });
      await Deno.writeTextFile(file, text);
    }
    await Deno.writeTextFile(`${tmp}/package.json`, JSON.stringify(pkg, null, 2) + "\n");
    await Deno.writeFile(`${tmp}/LICENSE`, license);
    await Deno.writeTextFile(`${tmp}/README.md`, README);
  });
}

const BUILD_NPM_COMMAND = {
  name: "build:npm",
  summary: "Builds the npm package of mod.ts (index.js, types/, package.json) into a folder.",
  flags: {
    out: {
      type: "string",
      default: "npm",
      arg: "DIR",
      help: "the package folder (replaced as a whole)",
    },
  },
  examples: ["", "--out /tmp/webgpu-bert-npm"],
} as const satisfies CommandSpec<FlagTable>;

if (import.meta.main) {
  await runCommand(BUILD_NPM_COMMAND, async ({ values: v }) => {
    const out = v.out.startsWith("/") ? v.out : `${Deno.cwd()}/${v.out}`;
    await buildNpm(out.replace(/\/+$/, ""));
    console.log(`npm package: ${out}`);
  });
}
