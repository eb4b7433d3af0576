// Writes go to a temporary file beside the target and are renamed over it, so an interrupted
// run leaves either the old file or the new one, never half of one. Temporaries in flight are
// known, so a signal handler can remove them; ones a killed process left are removed at the next
// start (removeStaleTemps).

/** `name.PID.MILLISECONDS.tmp`: the pattern of this module's temporary names. */
const TEMP_NAME = /\.\d+\.\d+\.tmp$/;
const inFlight = new Set<string>();
/** Temporary folders being filled (writeDirAtomic), removed with their contents on a signal. */
const dirsInFlight = new Set<string>();

/** Marks a temporary folder as in flight until `untrackTempDir`: a signal then removes it. */
export function trackTempDir(dir: string): void {
  dirsInFlight.add(dir);
}

export function untrackTempDir(dir: string): void {
  dirsInFlight.delete(dir);
}

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${Deno.pid}.${Date.now()}.tmp`;
  inFlight.add(tmp);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, file);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  } finally {
    inFlight.delete(tmp);
  }
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

/** Removes the temporaries of writes in progress (called on SIGINT/SIGTERM before exiting). */
export function removeTempsInFlight(): void {
  for (const tmp of inFlight) {
    try {
      Deno.removeSync(tmp);
    } catch { /* not created yet, or already renamed */ }
  }
  inFlight.clear();
  for (const dir of dirsInFlight) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* not created yet, or already renamed */ }
  }
  dirsInFlight.clear();
}

/** Removes temporaries an interrupted run left in `dir` (not recursive); returns their names. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && TEMP_NAME.test(e.name)) {
      await Deno.remove(`${dir}/${e.name}`);
      removed.push(e.name);
    }
  }
  return removed;
}
