// parseCheckpoint: a model folder's files in memory (as a browser holds them) read with the same
// checks and to the same weights as loadCheckpoint reads the folder.
import assert from "node:assert/strict";
import { loadCheckpoint } from "../src/bert/checkpoint.ts";
import { parseCheckpoint } from "../src/bert/checkpoint_files.ts";
import { UserError } from "../src/errors.ts";
import { TINY_VOCAB, writeTinyCheckpoint } from "./bert_fixture.ts";

const quiet = { seed: 42, warn: () => {} };

async function folderFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    files.set(e.name, await Deno.readFile(`${dir}/${e.name}`));
  }
  return files;
}

Deno.test("parseCheckpoint: files in memory give loadCheckpoint's config, tokenizer and weights", async () => {
  const dir = await Deno.makeTempDir();
  const { weights } = await writeTinyCheckpoint(dir);
  const fromDisk = await loadCheckpoint(dir, quiet);
  const ck = await parseCheckpoint(await folderFiles(dir), quiet);
  assert.deepEqual(ck.config, fromDisk.config);
  assert.deepEqual(ck.tokenizer.tokens, TINY_VOCAB);
  assert.deepEqual(ck.newlyInitialized, []);
  assert.deepEqual([...ck.weights.keys()].sort(), [...weights.keys()].sort());
  for (const [k, v] of weights) assert.deepEqual(ck.weights.get(k), v, k);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseCheckpoint: no model.safetensors initialises every weight from the seed, with a warning", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const files = await folderFiles(dir);
  files.delete("model.safetensors");
  const warnings: string[] = [];
  const ck = await parseCheckpoint(files, { seed: 7, warn: (m) => warnings.push(m) });
  const again = await parseCheckpoint(files, quiet);
  assert.equal(ck.newlyInitialized.length, ck.weights.size);
  assert.match(
    warnings.join("\n"),
    /no model\.safetensors: every weight is randomly initialised \(seed 7\)/,
  );
  // Another seed, other weights: the seed is honoured.
  const word = "bert.embeddings.word_embeddings.weight";
  assert.notDeepEqual(ck.weights.get(word), again.weights.get(word));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseCheckpoint: bad input is a UserError naming the file", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const files = await folderFiles(dir);
  const refuse = async (f: Map<string, Uint8Array>, pattern: RegExp) => {
    await assert.rejects(parseCheckpoint(f, { ...quiet, source: "upload" }), (e: Error) => {
      assert.ok(e instanceof UserError, `${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  };
  const without = (name: string) => new Map([...files].filter(([k]) => k !== name));
  await refuse(without("config.json"), /^upload\/config\.json: not found/);
  await refuse(
    new Map([...files, ["config.json", new TextEncoder().encode("{")]]),
    /^upload\/config\.json: invalid JSON/,
  );
  await refuse(without("vocab.txt"), /^upload: no tokenizer\.json or vocab\.txt/);
  const bytes = files.get("model.safetensors")!;
  await refuse(
    new Map([...files, ["model.safetensors", bytes.subarray(0, bytes.length - 4)]]),
    /^upload\/model\.safetensors: /,
  );
  await Deno.remove(dir, { recursive: true });
});
