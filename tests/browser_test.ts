// The op gradient checks (checkOp: float64 references, finite differences, the same tolerances)
// and optimizer checks, run again inside headless Chromium against its own WebGPU adapter
// (SwiftShader on a machine without a GPU): a second WebGPU implementation, one answer.
import assert from "node:assert/strict";
import { CHROMIUM, runInChromium } from "../tools/browser.ts";
import type { OpsPageResult } from "./browser/ops_page.ts";

Deno.test({
  name: "browser: the op gradient checks pass in headless Chromium",
  ignore: !CHROMIUM,
  // puppeteer's pipe and timers outlive the browser by a tick.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const { result, console: lines } = await runInChromium<OpsPageResult>(
      new URL("./browser/ops_page.ts", import.meta.url).pathname,
      { timeoutMs: 15 * 60_000 },
    );
    console.log(`browser_test: Chromium's adapter: ${result.adapter}`);
    // (Importing the case lists here would register them with Deno.test a second time.)
    assert.ok(result.cases.length > 0, `the page ran no case (console: ${lines.join(" | ")})`);
    for (const c of result.cases) {
      await t.step(`${c.name} [${result.adapter}]`, () => {
        assert.ok(c.ok, c.error ?? "");
      });
    }
  },
});
if (!CHROMIUM) {
  console.error("browser_test: chromium not installed (apt-get install chromium); skipping");
}
