// The kernel tuner with its on-disk cache (Deno only: tests/ops*_test.ts also run in Chromium).
import assert from "node:assert/strict";
import { initGpu } from "../src/gpu/kernel.ts";
import { getAdapterName } from "../src/gpu/device.ts";
import { tuneKernels } from "../src/ops/tune.ts";
import { fileChoiceStore, kernelCacheFile } from "../src/io/kernel_cache.ts";
import {
  isLavapipe,
  matmulTile,
  setMatmulTile,
  setRowReductionLayout,
  setTransposedALayout,
  transposedALayout,
} from "../src/ops/variants.ts";

Deno.test("tuneKernels: quick times both shapes once and caches the choice per adapter, then reuses it; full re-times; off takes the defaults", async () => {
  const rt = await initGpu();
  const before = Deno.env.get("XDG_CACHE_HOME");
  const dir = await Deno.makeTempDir();
  Deno.env.set("XDG_CACHE_HOME", dir);
  try {
    const store = fileChoiceStore();
    const first = await tuneKernels("quick", 64, 32, store);
    assert.equal(first.source, "timed");
    assert.ok(["thread", "workgroup"].includes(first.rowReductions));
    assert.ok(["in-kernel", "materialize"].includes(first.transposedA));
    assert.ok(["register", "register-tall", "workgroup"].includes(first.matmulTile));
    assert.ok(isLavapipe() || first.matmulTile !== "register-tall", "the tall tile: lavapipe only");
    assert.equal(kernelCacheFile(), `${dir}/webgpu-bert/kernel_choices.json`);
    const cache = JSON.parse(await Deno.readTextFile(kernelCacheFile()));
    const key = Object.keys(cache)[0];
    assert.ok(key.startsWith(getAdapterName()), `cache key ${key} names the adapter`);
    assert.deepEqual(cache[key], {
      rowReductions: first.rowReductions,
      transposedA: first.transposedA,
      matmulTile: first.matmulTile,
    });
    assert.ok(
      key.endsWith(` | tiles ${isLavapipe() ? "register,register-tall," : "register,"}workgroup`),
    );
    // A choice an older release cached under the key without the candidate list is not reused.
    const stale = {
      rowReductions: "thread",
      transposedA: "materialize",
      matmulTile: "register",
    } as const;
    await fileChoiceStore().write({ [key.slice(0, key.indexOf(" | tiles"))]: stale });
    const retimed = await tuneKernels("quick", 64, 32, store);
    assert.equal(retimed.source, "timed", "a choice cached before the candidates changed");
    const d0 = rt.dispatchCount;
    const second = await tuneKernels("quick", 64, 32, store);
    assert.equal(second.source, "cached");
    assert.equal(rt.dispatchCount, d0, "a cached choice times nothing");
    assert.equal(transposedALayout(), retimed.transposedA);
    assert.equal(matmulTile(), retimed.matmulTile, "the cached matmul tile is in force");
    assert.equal((await tuneKernels("full", 64, 32, store)).source, "timed");
    assert.ok(rt.dispatchCount > d0, "full times again");
    const off = await tuneKernels("off", 64, 32);
    assert.equal(off.source, "default");
    // Untuned, every adapter takes the 16×16 register tile; the tall one only when timed faster.
    assert.equal(off.matmulTile, "register");
  } finally {
    if (before === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", before);
    setRowReductionLayout(null);
    setTransposedALayout(null);
    setMatmulTile(null);
    await Deno.remove(dir, { recursive: true });
  }
});
