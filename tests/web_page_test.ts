// The web page's edges in headless Chromium, beside tests/web_test.ts's training runs: a data file
// chosen before any model, a model folder without config.json, and Stop pressed while a run is
// still loading its model again (a hub model with a fresh classifier and another seed).
/// <reference lib="dom" />
import assert from "node:assert/strict";
import type { ElementHandle } from "puppeteer-core";
import { CHROMIUM } from "../tools/browser.ts";
import { buildWeb, serveWeb } from "../tools/web.ts";
import { openWebSession, setValue, text, waitFor, type WebSession } from "./web_fixture.ts";
import { fixtureTsv, writeTinyCheckpoint } from "./bert_fixture.ts";

/** How long the stand-in hub takes per file once `slow` (the run's reload waits on it). */
const SLOW_MS = 500;

Deno.test({
  name: "web page: data before a model, a folder without config.json, Stop during a reload",
  ignore: !CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "webgpu-bert-web-page-" });
    // A base model as the hub holds most: no classifier, so each seed gets its own fresh head.
    await writeTinyCheckpoint(`${dir}/hub`, {
      rename: (k) => (k.startsWith("classifier.") ? null : k),
    });
    await Deno.mkdir(`${dir}/bad`);
    await Deno.copyFile(`${dir}/hub/vocab.txt`, `${dir}/bad/vocab.txt`);
    await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv());
    let slow = false;
    const server = serveWeb(await buildWeb(), {
      other: async (req) => {
        const m = new URL(req.url).pathname.match(/^\/hub\/tiny\/base\/resolve\/main\/(.+)$/);
        if (!m) return null;
        if (slow) await new Promise((r) => setTimeout(r, SLOW_MS));
        try {
          return new Response(await Deno.readFile(`${dir}/hub/${m[1]}`));
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    });
    const url = `http://127.0.0.1:${server.addr.port}/`;
    let session: WebSession | null = null;
    try {
      session = await openWebSession({ protocolTimeout: 300_000 });
      const { page, errors } = session;
      await page.goto(`${url}?hub=${encodeURIComponent(`${url}hub`)}`);

      await t.step("a data file before any model: the labels wait for the model", async () => {
        const input = await page.$("#data-file") as ElementHandle<HTMLInputElement>;
        await input.uploadFile(`${dir}/data.tsv`);
        await waitFor(page, `/messages/.test(document.getElementById("data-status").textContent)`);
        assert.equal(
          await text(page, "data-status"),
          "data.tsv: 7 messages (sms)\nlabels and the training / validation split: once a model is chosen",
        );
      });

      await t.step("a folder without config.json is one line naming the file", async () => {
        const folder = await page.$("#model-folder") as ElementHandle<HTMLInputElement>;
        await folder.uploadFile(`${dir}/bad`);
        await waitFor(page, `/^error/.test(document.getElementById("model-status").textContent)`);
        assert.equal(
          await text(page, "model-status"),
          "error: bad/config.json: not found (a model needs config.json)",
        );
        assert.equal(await page.$eval("#train", (e) => (e as HTMLButtonElement).disabled), true);
      });

      await t.step("Stop while the run loads its model again stops it before a step", async () => {
        await setValue(page, "hub-id", "tiny/base");
        await page.click("#hub-load");
        await waitFor(
          page,
          `/^tiny\\/base: .* layers, hidden /.test(document.getElementById("model-status").textContent)`,
        );
        assert.match(await text(page, "data-status"), /labels ham, spam; 5 training/);
        // Seed 7, not the load's 42: the fresh classifier is drawn again, so the worker loads the
        // model again before the run starts: from the hub, slowly, with the page's cache emptied.
        slow = true;
        await page.evaluate(async () => {
          // Its entries, not the cache: the worker holds the Cache object open.
          const cache = await caches.open("webgpu-bert-hub");
          for (const req of await cache.keys()) await cache.delete(req);
        });
        await setValue(page, "seed", 7);
        await setValue(page, "epochs", 1);
        await setValue(page, "batch-size", 2);
        await page.click("#train");
        await page.click("#stop");
        await waitFor(page, `["stopped", "done", "error"].includes(document.body.dataset.state)`);
        assert.equal(
          await page.evaluate(() => document.body.dataset.state),
          "stopped",
          await text(page, "train-status"),
        );
        assert.match(await text(page, "train-status"), /^stopped after 0 steps/);
      });
      assert.deepEqual(errors, [], "errors in the page");
    } finally {
      await session?.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

if (!CHROMIUM) {
  console.error("web_page_test: chromium not installed (apt-get install chromium); skipping");
}
