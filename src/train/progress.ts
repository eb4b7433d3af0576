// A progress bar on a terminal; one line every few updates when stdout is a file or a CI log.
// The bar is per epoch; a run clock counts the steps of every mode and epoch, so the line also
// carries an ETA for the whole run.

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const total = Math.round(s);
  const m = Math.floor(total / 60), r = total % 60;
  return m ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

/** The steps of the whole run (every mode and epoch) and the time they have taken so far. */
export class RunClock {
  private readonly start = performance.now();
  done = 0;

  constructor(readonly total: number) {}

  /** Seconds left at the rate so far (evaluation time included, so it is priced in). */
  eta(): number {
    const elapsed = (performance.now() - this.start) / 1000;
    return this.done > 0 ? elapsed / this.done * Math.max(0, this.total - this.done) : Infinity;
  }
}

let runClock: RunClock | null = null;

/** Starts the run's clock; training progress lines then show the whole run's ETA. */
export function startRunClock(totalSteps: number): RunClock {
  runClock = new RunClock(totalSteps);
  return runClock;
}

export class Progress {
  private start = performance.now();
  private lastLine = -Infinity;
  private readonly tty: boolean;
  private counted = 0;

  /** `runSteps`: each unit of this bar is a training step of the run (moves the run clock). */
  constructor(
    private label: string,
    private total: number,
    private lineEverySeconds = 10,
    tty?: boolean,
    private runSteps = false,
  ) {
    this.tty = tty ?? Deno.stdout.isTerminal();
  }

  update(done: number, info = ""): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = done > 0 ? elapsed / done * (this.total - done) : Infinity;
    let run = "";
    if (this.runSteps && runClock) {
      runClock.done += done - this.counted;
      this.counted = done;
      run = ` | run ${runClock.done}/${runClock.total} steps, ETA ${fmtTime(runClock.eta())}`;
    }
    const text = `${this.label} ${done}/${this.total} ${info} ETA ${fmtTime(eta)}${run}`.replace(
      / +/g,
      " ",
    );
    if (this.tty) {
      const width = 24, fill = Math.round(width * done / Math.max(1, this.total));
      const bar = "█".repeat(fill) + "░".repeat(width - fill);
      Deno.stdout.writeSync(new TextEncoder().encode(`\r\x1b[2K${bar} ${text}`));
    } else if (elapsed - this.lastLine >= this.lineEverySeconds || done === this.total) {
      this.lastLine = elapsed;
      console.log(text);
    }
  }

  finish(): void {
    if (this.tty) Deno.stdout.writeSync(new TextEncoder().encode("\r\x1b[2K"));
  }
}

/** Software WebGPU on the CPU: by the adapter's own flag or its well-known names. */
export function isCpuAdapter(name: string, fallback = false): boolean {
  return fallback || /llvmpipe|lavapipe|swiftshader|softpipe|basic render driver/i.test(name);
}

/** What the time estimate of a CPU run needs to know about the model and the run. */
export interface RunShape {
  layers: number;
  hidden: number;
  intermediate: number;
  modes: string[];
  /** Training steps per mode (all epochs) and tokens per step. */
  stepsPerMode: number;
  tokensPerStep: number;
  /** Validation tokens per mode (all epochs). */
  evalTokensPerMode: number;
}

/**
 * Rough seconds for a run on lavapipe: encoder FLOPs (6 per weight and token for a full step,
 * 4 for LoRA's forward and input gradients, 2 for head's forward and for evaluation) at the
 * ~8 GFLOP/s BERT-base steps reached on 2 CPU cores (README Benchmarks), plus a fixed cost per
 * step and layer for small models where dispatch overhead dominates (~0.05 s, bert-tiny's 36 s
 * epoch of 279 steps).
 */
export function cpuRunSeconds(s: RunShape): number {
  const weights = s.layers * (4 * s.hidden * s.hidden + 2 * s.hidden * s.intermediate);
  const perToken: Record<string, number> = { full: 6, lora: 4, head: 2 };
  let flops = 0;
  for (const m of s.modes) {
    flops += (perToken[m] ?? 6) * weights * s.tokensPerStep * s.stepsPerMode;
    flops += 2 * weights * s.evalTokensPerMode;
  }
  return flops / 8e9 + 0.05 * s.layers * s.stepsPerMode * s.modes.length;
}

/** The note printed when the GPU adapter is a CPU implementation; null on a real GPU. */
export function cpuAdapterNote(name: string, fallback: boolean, shape: RunShape): string | null {
  if (!isCpuAdapter(name, fallback)) return null;
  const tiny = shape.hidden <= 128 && shape.layers <= 2;
  return `note: the GPU adapter "${name}" is a CPU implementation of WebGPU, not a GPU; ` +
    `this run should take roughly ${fmtTime(Math.max(1, cpuRunSeconds(shape)))}` +
    (tiny ? "" : " (--model bert-tiny runs the same recipe in minutes)");
}

export { fmtTime };
