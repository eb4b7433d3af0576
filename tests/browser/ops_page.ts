// The browser test page: runs the op cases of tests/ops_test.ts and tests/ops2_test.ts (the
// checkOp gradient checks and the optimizers) on Chromium's WebGPU adapter, in file order as
// `deno test` runs them (each file's cases share one random stream).
import { OPS_CASES } from "../ops_test.ts";
import { OPS2_CASES } from "../ops2_test.ts";
import { initGpu } from "../../src/gpu/kernel.ts";
import { getAdapterName } from "../../src/gpu/device.ts";

/** One case's outcome, as tests/browser_test.ts reads it. */
export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

export interface OpsPageResult {
  adapter: string;
  cases: CaseResult[];
}

const g = globalThis as { __result?: OpsPageResult; __error?: string };
try {
  await initGpu();
  const cases: CaseResult[] = [];
  for (const c of [...OPS_CASES, ...OPS2_CASES]) {
    const t0 = performance.now();
    try {
      await c.fn();
      cases.push({ name: c.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      cases.push({ name: c.name, ok: false, error: String(e), ms: performance.now() - t0 });
    }
    console.log(`${cases.at(-1)!.ok ? "ok" : "FAILED"}: ${c.name}`);
  }
  g.__result = { adapter: getAdapterName(), cases };
} catch (e) {
  g.__error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
}
