// Runs tests/library_run.ts (mod.ts on in-memory model files) in Chromium.
import { trainTiny } from "../library_run.ts";
import { getAdapterName } from "../../mod.ts";

const g = globalThis as { __result?: unknown; __error?: string };
try {
  const steps = Number(new URL(location.href).searchParams.get("steps"));
  g.__result = { adapter: getAdapterName(), losses: await trainTiny(steps) };
} catch (e) {
  g.__error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
}
