// mod.ts as a library: in-memory model files, a few training steps, the loss falls; and the same
// steps in headless Chromium (Dawn on its own adapter) give the same losses as Deno (wgpu).
import assert from "node:assert/strict";
import { trainTiny } from "./library_run.ts";
import { CHROMIUM, runInChromium } from "../tools/browser.ts";
import { relError } from "./helpers.ts";

const STEPS = 8;
let denoLosses: number[] | null = null;

Deno.test("mod.ts: a tiny model from in-memory files trains (the loss falls)", async () => {
  denoLosses = await trainTiny(STEPS);
  assert.ok(denoLosses.every(Number.isFinite), `losses ${denoLosses}`);
  assert.ok(denoLosses.at(-1)! < denoLosses[0] * 0.9, `losses ${denoLosses}`);
});

Deno.test({
  name: "mod.ts in Chromium: the same steps give Deno's losses (two WebGPU implementations)",
  ignore: !CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    denoLosses ??= await trainTiny(STEPS);
    const { result } = await runInChromium<{ adapter: string; losses: number[] }>(
      new URL("./browser/mod_page.ts", import.meta.url).pathname,
      { timeoutMs: 10 * 60_000, query: { steps: String(STEPS) } },
    );
    // f32 sums in another order (another compiler, another reduction order) drift by ~1e-6 per
    // step; 1e-5 relative is the bound the issue sets for the two implementations.
    const e = relError(result.losses, denoLosses);
    assert.ok(e <= 1e-5, `${result.adapter}: ${result.losses} vs Deno ${denoLosses} (rel ${e})`);
  },
});

Deno.test("mod.ts: the example in its documentation type-checks against the exports", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--doc", "mod.ts"],
    cwd: new URL("../", import.meta.url).pathname,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});
