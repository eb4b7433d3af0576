// A signal during a save removes the temporaries in flight: files and writeDirAtomic's folders.
import assert from "node:assert/strict";
import { removeTempsInFlight } from "../src/io/atomic.ts";
import { writeDirAtomic } from "../src/train/checkpointing.ts";

Deno.test("removeTempsInFlight removes a folder writeDirAtomic is filling (what SIGTERM runs)", async () => {
  const root = await Deno.makeTempDir();
  let filling!: () => void;
  const started = new Promise<void>((r) => filling = r);
  let release!: () => void;
  const hold = new Promise<void>((r) => release = r);
  const save = writeDirAtomic(`${root}/checkpoint-7`, async (tmp) => {
    await Deno.writeTextFile(`${tmp}/trainer_state.json`, "{}");
    filling();
    await hold;
  });
  await started;
  const names = async () => {
    const out: string[] = [];
    for await (const e of Deno.readDir(root)) out.push(e.name);
    return out;
  };
  assert.ok((await names()).some((n) => n.startsWith("checkpoint-7.tmp-")), "filling");
  removeTempsInFlight();
  assert.deepEqual(await names(), [], "the temporary folder is gone");
  release();
  await save.catch(() => {}); // the interrupted save fails: its folder was removed
  await Deno.remove(root, { recursive: true });
});
