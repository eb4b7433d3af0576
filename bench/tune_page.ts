// The page bench/modes.ts --browser-tune opens in Chromium: the kernel tuner (src/ops/tune.ts) on
// the browser's own adapter (SwiftShader on a machine without a GPU), with an in-memory choice
// store, for the model shape in the query (?rows=R&hidden=H&tune=quick|full|off).
import { initGpu } from "../src/gpu/kernel.ts";
import { getAdapterName } from "../src/gpu/device.ts";
import {
  type KernelChoices,
  memoryChoiceStore,
  tuneKernels,
  type TuneLevel,
} from "../src/ops/tune.ts";

export interface BrowserTuning {
  adapter: string;
  choices: KernelChoices;
}

const g = globalThis as { __result?: BrowserTuning; __error?: string };
try {
  const q = new URL(location.href).searchParams;
  await initGpu();
  const choices = await tuneKernels(
    (q.get("tune") ?? "quick") as TuneLevel,
    Number(q.get("rows") ?? "512"),
    Number(q.get("hidden") ?? "768"),
    memoryChoiceStore(),
  );
  g.__result = { adapter: getAdapterName(), choices };
} catch (e) {
  g.__error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
}
