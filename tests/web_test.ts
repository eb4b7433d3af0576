// The web page (web/, `deno task web`) in headless Chromium, driven as a user drives it: a tiny
// checkpoint folder and the SMS fixture chosen through the page's own file inputs, 20 steps in
// each mode, the loss falls, and the downloaded checkpoint or PEFT adapter equals, tensor by
// tensor, what `deno task train` writes with the same seed, data and options (Chromium's WebGPU,
// Dawn on SwiftShader here, against Deno's wgpu on lavapipe: two implementations, one answer).
// Then a screenshot whose chart and metrics are checked by their pixels, the stop button, and a
// hub model read the second time from the browser's Cache API. One Chromium launch for all.
/// <reference lib="dom" />
import assert from "node:assert/strict";
import type { ElementHandle, Page } from "puppeteer-core";
import { unzipSync } from "fflate";
import { CHROMIUM } from "../tools/browser.ts";
import { buildWeb, serveWeb } from "../tools/web.ts";
import { openWebSession, setValue, waitFor, type WebSession } from "./web_fixture.ts";
import { parseSafetensors, type StoredTensor } from "../src/io/safetensors.ts";
import { fixtureTsv, runTask, writeTinyCheckpoint } from "./bert_fixture.ts";
import { relError } from "./helpers.ts";

const MODES = ["full", "head", "lora"] as const;
/** One optimizer step per epoch (the 5 training messages of the fixture's 80/20 split). */
const OPTIONS = { epochs: 20, lr: 0.01, loraRank: 4, batchSize: 8, seed: 7, maxSteps: 20 };
const STEPS = 20;
/** Where `WEB_SCREENSHOT=FILE deno test -A tests/web_test.ts` leaves the screenshot (README). */
const SCREENSHOT = Deno.env.get("WEB_SCREENSHOT");

/** The weights the CLI saved for `mode` (model.safetensors, or the adapter's). */
async function cliTensors(out: string, mode: string) {
  const file = mode === "lora"
    ? `${out}/${mode}/adapter_model.safetensors`
    : `${out}/${mode}/model.safetensors`;
  return parseSafetensors(await Deno.readFile(file), file);
}

/**
 * The page's tensor equals the CLI's to 1e-5 (relative to its largest element). Except a key
 * bias: its gradient is exactly zero (it adds q·b to every score in a query's row, and softmax
 * ignores a constant), so each implementation's gradient is its own f32 rounding noise, which
 * AdamW's m/√v scales up to steps of about lr. Those may differ by lr per step, and nothing
 * downstream sees them (every other tensor agrees to 1e-5).
 */
function assertSameTensor(what: string, got: StoredTensor, want: StoredTensor): void {
  assert.deepEqual(got.shape, want.shape, what);
  if (/attention\.self\.key\.bias$/.test(what)) {
    const diff = Math.max(...got.data!.map((v, i) => Math.abs(v - want.data![i])));
    assert.ok(diff <= OPTIONS.lr * STEPS, `${what}: differs by ${diff}`);
    return;
  }
  const e = relError(got.data!, want.data!);
  assert.ok(e <= 1e-5, `${what}: relative difference ${e.toExponential(2)}`);
}

async function train(page: Page, mode: string, opts: Record<string, number | string>) {
  await setValue(page, "mode", mode);
  for (const [id, v] of Object.entries(opts)) await setValue(page, id, v);
  await page.click("#train");
  await waitFor(
    page,
    `["done", "stopped", "error"].includes(document.body.dataset.state)`,
    300_000,
  );
  const state = await page.evaluate(() => document.body.dataset.state);
  const status = await page.$eval("#train-status", (e) => e.textContent);
  assert.notEqual(state, "error", `${mode}: ${status}`);
  const losses: number[] = JSON.parse(
    await page.$eval("#chart", (e) => (e as unknown as SVGElement).dataset.losses ?? "[]"),
  );
  return { state, status, losses };
}

/** Clicks Download and returns the zip Chromium saved into `dir` (its name from the page). */
async function download(page: Page, dir: string): Promise<Map<string, Uint8Array>> {
  await page.click("#download");
  await waitFor(
    page,
    `/\\.zip:/.test(document.getElementById("download-status").textContent)`,
    60_000,
  );
  const name = (await page.$eval("#download-status", (e) => e.textContent))!.split(":")[0];
  const path = `${dir}/${name}`;
  for (let i = 0; i < 300; i++) {
    try {
      const bytes = await Deno.readFile(path);
      return new Map(Object.entries(unzipSync(bytes)));
    } catch { /* still being written (as NAME.crdownload) */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path}: no download after 30 s`);
}

/**
 * Pixels in `clip` of a screenshot (PNG bytes, decoded by the page's own image decoder) that
 * `test` accepts, given r, g, b.
 */
async function countPixels(page: Page, png: string, test: string): Promise<number> {
  return await page.evaluate(
    async (b64: string, test: string) => {
      const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
      const img = await createImageBitmap(blob);
      const c = new OffscreenCanvas(img.width, img.height);
      const ctx = c.getContext("2d")!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, img.width, img.height).data;
      const accept = new Function("r", "g", "b", `return ${test};`);
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (accept(d[i], d[i + 1], d[i + 2])) n++;
      return n;
    },
    png,
    test,
  );
}

async function shot(page: Page, selector: string): Promise<string> {
  const box = (await (await page.$(selector))!.boundingBox())!;
  return await page.screenshot({ encoding: "base64", clip: box }) as string;
}

Deno.test({
  name: "web page: trains full, head and LoRA in Chromium as the CLI does; stop; hub cache",
  ignore: !CHROMIUM,
  // puppeteer's pipe and timers outlive the browser by a tick.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "webgpu-bert-web-" });
    await writeTinyCheckpoint(`${dir}/model`);
    await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv());
    // The CLI: the three modes from the same weights and split; kernels untuned, as the page.
    const cli = await runTask("train", [
      ...["--model", `${dir}/model`, "--data", `${dir}/data.tsv`, "--mode", "all"],
      ...["--epochs", `${OPTIONS.epochs}`, "--lr", `${OPTIONS.lr}`, "--seed", `${OPTIONS.seed}`],
      ...["--batch-size", `${OPTIONS.batchSize}`, "--max-steps", `${OPTIONS.maxSteps}`],
      ...["--lora-rank", `${OPTIONS.loraRank}`, "--tune", "off", "--out", `${dir}/cli`],
    ]);
    assert.equal(cli.code, 0, cli.stderr);

    // A stand-in hub on the page's own server: /hub/<id>/resolve/main/<file>, requests counted.
    const hubRequests: string[] = [];
    const server = serveWeb(await buildWeb(), {
      other: async (req) => {
        const m = new URL(req.url).pathname.match(/^\/hub\/tiny\/bert\/resolve\/main\/(.+)$/);
        if (!m) return null;
        hubRequests.push(m[1]);
        try {
          return new Response(await Deno.readFile(`${dir}/model/${m[1]}`));
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    });
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const downloads = `${dir}/downloads`;
    await Deno.mkdir(downloads);
    let session: WebSession | null = null;
    try {
      session = await openWebSession({
        protocolTimeout: 600_000,
        viewport: { width: 1000, height: 1100 },
      });
      const { browser, page, errors } = session;
      const cdp = await browser.target().createCDPSession();
      await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
      await page.goto(`${url}?hub=${encodeURIComponent(`${url}hub`)}`);

      await t.step("the model folder and data file load through the file inputs", async () => {
        const folder = await page.$("#model-folder") as ElementHandle<HTMLInputElement>;
        await folder.uploadFile(`${dir}/model`);
        await waitFor(
          page,
          `/ layers, hidden /.test(document.getElementById("model-status").textContent)`,
          120_000,
        );
        const data = await page.$("#data-file") as ElementHandle<HTMLInputElement>;
        await data.uploadFile(`${dir}/data.tsv`);
        await waitFor(
          page,
          `/training/.test(document.getElementById("data-status").textContent)`,
          60_000,
        );
        const status = await page.$eval("#data-status", (e) => e.textContent);
        assert.match(status!, /7 messages \(sms\)/);
        assert.match(status!, /labels ham, spam; 5 training \/ 2 validation/);
      });

      for (const mode of MODES) {
        await t.step(
          `${mode}: 20 steps, the loss falls, the download equals the CLI's`,
          async () => {
            const { losses, status } = await train(page, mode, {
              epochs: OPTIONS.epochs,
              lr: OPTIONS.lr,
              "lora-rank": OPTIONS.loraRank,
              "batch-size": OPTIONS.batchSize,
              seed: OPTIONS.seed,
              "max-steps": OPTIONS.maxSteps,
            });
            assert.equal(losses.length, STEPS, status!);
            assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
            const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
            // (head mode moves least: only the classifier learns, 0.715 → 0.658 in the CLI's run)
            assert.ok(
              mean(losses.slice(-5)) < mean(losses.slice(0, 5)) && losses[STEPS - 1] < losses[0],
              `the loss does not fall: ${losses.map((l) => l.toFixed(4))}`,
            );
            const files = await download(page, downloads);
            const weights = mode === "lora" ? "adapter_model.safetensors" : "model.safetensors";
            const expected = mode === "lora"
              ? ["adapter_config.json", weights]
              : ["config.json", weights, "tokenizer_config.json", "vocab.txt"];
            assert.deepEqual([...files.keys()].sort(), expected);
            const got = parseSafetensors(files.get(weights)!, weights);
            const want = await cliTensors(`${dir}/cli`, mode);
            assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
            for (const [name, w] of want) assertSameTensor(`${mode} ${name}`, got.get(name)!, w);
            if (mode !== "lora") {
              const cfgPage = JSON.parse(new TextDecoder().decode(files.get("config.json")!));
              const cfgCli = JSON.parse(await Deno.readTextFile(`${dir}/cli/${mode}/config.json`));
              assert.deepEqual(cfgPage, cfgCli);
            }
          },
        );
      }

      await t.step("the screenshot shows the loss curve and the metrics", async () => {
        // The chart's line is #0969da; the rest of the chart is white, grey axes and labels.
        const line = await countPixels(
          page,
          await shot(page, "#chart"),
          "b > 180 && r < 60 && g > 80 && g < 140",
        );
        assert.ok(line > 300, `the chart's loss line covers ${line} pixels`);
        const metrics = await page.$eval("#metrics-table", (e) => (e as HTMLElement).innerText);
        assert.match(metrics, /accuracy\s+\d\.\d{4}/);
        assert.match(metrics, /F1\s+\d\.\d{4}/);
        const cm = await page.$eval("#confusion-table", (e) => (e as HTMLElement).innerText);
        assert.match(cm, /ham/);
        // Text drawn in the metrics box: dark pixels on white.
        const text = await countPixels(page, await shot(page, "#metrics"), "r + g + b < 200");
        assert.ok(text > 200, `the metrics box has ${text} dark pixels`);
        if (SCREENSHOT) {
          await setValue(page, "predict-text", "WIN a FREE prize!!! txt claim now");
          await page.click("#predict");
          await waitFor(page, `document.getElementById("prediction").textContent !== ""`, 60_000);
          await page.screenshot({ path: SCREENSHOT, fullPage: true });
        }
      });

      await t.step("a prediction gives a label and its probability", async () => {
        await page.$eval("#prediction", (e) => (e.textContent = ""));
        await setValue(page, "predict-text", "free prize, call now");
        await page.click("#predict");
        await waitFor(page, `document.getElementById("prediction").textContent !== ""`, 60_000);
        const p = await page.$eval("#prediction", (e) => e.textContent);
        assert.match(p!, /^(ham|spam) \(p = 0\.\d{4}\)$/);
        const prob = Number(p!.match(/p = ([\d.]+)/)![1]);
        assert.ok(prob >= 0.5 && prob <= 1, p!);
      });

      await t.step("Stop ends a long run at a step, and the page still answers", async () => {
        await setValue(page, "max-steps", "");
        await setValue(page, "epochs", 1000);
        await page.click("#train");
        await waitFor(
          page,
          `/^step [3-9]|^step \\d\\d/.test(document.getElementById("train-status").textContent)`,
          120_000,
        );
        await page.click("#stop");
        await waitFor(
          page,
          `["stopped", "done", "error"].includes(document.body.dataset.state)`,
          60_000,
        );
        assert.equal(await page.evaluate(() => document.body.dataset.state), "stopped");
        const status = await page.$eval("#train-status", (e) => e.textContent);
        assert.match(status!, /^stopped after \d+ steps/);
        assert.ok(Number(status!.match(/after (\d+)/)![1]) < 1000, status!);
        assert.equal(await page.$eval("#train", (e) => (e as HTMLButtonElement).disabled), false);
      });

      await t.step(
        "a CSV reads as the CLI reads it; a bad file is one line naming it",
        async () => {
          const csv = `label,text\n${
            fixtureTsv().trim().split("\n").map((l) => l.replace("\t", ',"'))
              .map((l) => `${l}"`).join("\n")
          }\n`;
          await Deno.writeTextFile(`${dir}/data.csv`, csv);
          await Deno.writeTextFile(`${dir}/bad.csv`, "message,category\nhello,ham\n");
          const input = await page.$("#data-file") as ElementHandle<HTMLInputElement>;
          await input.uploadFile(`${dir}/data.csv`);
          await waitFor(
            page,
            `/\(csv\)/.test(document.getElementById("data-status").textContent)`,
            60_000,
          );
          assert.match(
            await page.$eval("#data-status", (e) => e.textContent!),
            /data\.csv: 7 messages \(csv\)/,
          );
          await input.uploadFile(`${dir}/bad.csv`);
          await waitFor(
            page,
            `/^error/.test(document.getElementById("data-status").textContent)`,
            60_000,
          );
          assert.equal(
            await page.$eval("#data-status", (e) => e.textContent),
            'error: bad.csv: no column "text" (columns: message, category); name the right one with --text-column',
          );
        },
      );

      await t.step(
        "a hub id loads through the Cache API: the second load makes no request",
        async () => {
          await setValue(page, "hub-id", "tiny/bert");
          await page.click("#hub-load");
          await waitFor(
            page,
            `/^tiny\\/bert: .* layers, hidden /.test(document.getElementById("model-status").textContent)`,
            60_000,
          );
          const first = hubRequests.splice(0);
          assert.ok(
            first.includes("config.json") && first.includes("model.safetensors"),
            `${first}`,
          );
          await page.reload();
          await setValue(page, "hub-id", "tiny/bert");
          await page.click("#hub-load");
          await waitFor(
            page,
            `/^tiny\\/bert: .* layers, hidden /.test(document.getElementById("model-status").textContent)`,
            60_000,
          );
          // Absent files too: the cache notes them (.no_exist/), so a cached model loads offline.
          assert.deepEqual(hubRequests, [], "the second load fetched files again");
        },
      );
      assert.deepEqual(errors, [], "errors in the page");
    } finally {
      await session?.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

if (!CHROMIUM) {
  console.error("web_test: chromium not installed (apt-get install chromium); skipping");
}
