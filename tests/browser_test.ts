// The op gradient checks (checkOp: float64 references, finite differences, the same tolerances)
// and optimizer checks, run again inside headless Chromium against its own WebGPU adapter
// (SwiftShader on a machine without a GPU): a second WebGPU implementation, one answer. Once with
// every limit the adapter offers (what src/gpu/device.ts requests), once with WebGPU's defaults.
import assert from "node:assert/strict";
import { CHROMIUM, runInChromium } from "../tools/browser.ts";
import type { OpsPageResult } from "./browser/ops_page.ts";

/** WebGPU's default limits that bind the engine's kernels (the specification's table). */
const DEFAULTS = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeInvocationsPerWorkgroup: 256,
};

function browserTest(
  name: string,
  limits: "adapter" | "default",
  checkLimits: (l: OpsPageResult["limits"]) => void,
) {
  Deno.test({
    name,
    ignore: !CHROMIUM,
    // puppeteer's pipe and timers outlive the browser by a tick.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const { result, console: lines } = await runInChromium<OpsPageResult>(
        new URL("./browser/ops_page.ts", import.meta.url).pathname,
        { timeoutMs: 15 * 60_000, query: { limits } },
      );
      // (Importing the case lists here would register them with Deno.test a second time.)
      assert.ok(result.cases.length > 0, `the page ran no case (console: ${lines.join(" | ")})`);
      await t.step(`device limits (${limits}) [${result.adapter}]`, () => {
        assert.ok(Object.keys(result.limits).length > 20, "the page read the adapter's limits");
        checkLimits(result.limits);
      });
      for (const c of result.cases) {
        await t.step(`${c.name} [${result.adapter}]`, () => {
          assert.ok(c.ok, c.error ?? "");
        });
      }
    },
  });
}

browserTest(
  "browser: the op checks pass in headless Chromium with every limit of its adapter",
  "adapter",
  (limits) => {
    const differ = Object.entries(limits).filter(([, l]) => l.adapter !== l.device);
    assert.deepEqual(differ, [], "device limits below the adapter's (src/gpu/device.ts)");
  },
);

browserTest(
  "browser: the op checks pass in headless Chromium with WebGPU's default limits",
  "default",
  (limits) => {
    for (const [name, value] of Object.entries(DEFAULTS)) {
      assert.equal(limits[name].device, value, `${name} is the default`);
    }
  },
);

if (!CHROMIUM) {
  console.error("browser_test: chromium not installed (apt-get install chromium); skipping");
}
