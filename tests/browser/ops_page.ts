// The browser test page: runs the op cases of tests/ops_test.ts, tests/ops2_test.ts,
// tests/fused_ops_test.ts, tests/low_rank_test.ts and tests/matmul_vec4_test.ts (the checkOp
// gradient checks, the optimizers, LoRA's low-rank products and the vec4 matmul tiles) on
// Chromium's WebGPU adapter, in file order as
// `deno test` runs them (each file's cases share one random stream). With `?limits=default` the
// device gets WebGPU's default limits whatever the engine asks for, as a browser that raises none
// would grant (128 MiB bindings, 16 KiB workgroup storage, 8 storage buffers per stage).
import { OPS_CASES } from "../ops_test.ts";
import { OPS2_CASES } from "../ops2_test.ts";
import { FUSED_CASES } from "../fused_ops_test.ts";
import { LOW_RANK_CASES } from "../low_rank_test.ts";
import { VEC4_CASES } from "../matmul_vec4_test.ts";
import { initGpu } from "../../src/gpu/kernel.ts";
import { getAdapterName, LIMIT_NAMES } from "../../src/gpu/device.ts";

/** One case's outcome, as tests/browser_test.ts reads it. */
export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

export interface OpsPageResult {
  adapter: string;
  /** Each limit the engine requests: the adapter's value and the engine's device's. */
  limits: Record<string, { adapter: number; device: number }>;
  cases: CaseResult[];
}

const g = globalThis as { __result?: OpsPageResult; __error?: string };
if (new URL(location.href).searchParams.get("limits") === "default") {
  const request = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (desc?: GPUDeviceDescriptor) {
    return request.call(this, { ...desc, requiredLimits: {} });
  };
}
try {
  const rt = await initGpu();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  const limits: OpsPageResult["limits"] = {};
  for (const name of LIMIT_NAMES) {
    const a = (adapter!.limits as unknown as Record<string, number>)[name];
    const d = (rt.device.limits as unknown as Record<string, number>)[name];
    if (a !== undefined) limits[name] = { adapter: a, device: d };
  }
  const cases: CaseResult[] = [];
  for (const c of [...OPS_CASES, ...OPS2_CASES, ...FUSED_CASES, ...LOW_RANK_CASES, ...VEC4_CASES]) {
    const t0 = performance.now();
    try {
      await c.fn();
      cases.push({ name: c.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      cases.push({ name: c.name, ok: false, error: String(e), ms: performance.now() - t0 });
    }
    console.log(`${cases.at(-1)!.ok ? "ok" : "FAILED"}: ${c.name}`);
  }
  g.__result = { adapter: getAdapterName(), limits, cases };
} catch (e) {
  g.__error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
}
