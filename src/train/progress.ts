// A progress bar on a terminal; one line every few updates when stdout is a file or a CI log.

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const total = Math.round(s);
  const m = Math.floor(total / 60), r = total % 60;
  return m ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

export class Progress {
  private start = performance.now();
  private lastLine = -Infinity;
  private readonly tty: boolean;

  constructor(
    private label: string,
    private total: number,
    private lineEverySeconds = 10,
    tty?: boolean,
  ) {
    this.tty = tty ?? Deno.stdout.isTerminal();
  }

  update(done: number, info = ""): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = done > 0 ? elapsed / done * (this.total - done) : Infinity;
    const text = `${this.label} ${done}/${this.total} ${info} ETA ${fmtTime(eta)}`.replace(
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

export { fmtTime };
