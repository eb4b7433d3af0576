// The page bench/browser.ts opens in Chromium: times bert-tiny training steps on its adapter.
import { timeTrainSteps } from "./train_step.ts";

const g = globalThis as { __result?: unknown; __error?: string };
try {
  const steps = Number(new URL(location.href).searchParams.get("steps") ?? "5");
  g.__result = await timeTrainSteps(steps);
} catch (e) {
  g.__error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
}
