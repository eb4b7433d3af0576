// The HTML report: written by `train --report`, self-contained, and rendered by headless Chromium.
import assert from "node:assert/strict";
import { fixtureTsv, runTask, writeTinyCheckpoint } from "./bert_fixture.ts";
import { isFile } from "./helpers.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(isFile);

Deno.test("train --mode all --report: a self-contained page with loss curves, metrics, confusion matrices and the modes side by side; Chromium renders it", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(`${dir}/model`);
  await Deno.writeTextFile(`${dir}/data.tsv`, fixtureTsv(6));
  const r = await runTask("train", [
    "--model",
    `${dir}/model`,
    "--data",
    `${dir}/data.tsv`,
    "--val-data",
    `${dir}/data.tsv`,
    "--epochs",
    "2",
    "--batch-size",
    "2",
    "--lr",
    "1e-3",
    "--report",
    `${dir}/report.html`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /modes compared/);
  const html = await Deno.readTextFile(`${dir}/report.html`);
  const lossSvg = html.match(/<svg[^>]*aria-label="training loss per step"[\s\S]*?<\/svg>/)![0];
  for (const mode of ["full", "head", "lora"]) {
    assert.equal(
      lossSvg.split(`<title>${mode}</title></polyline>`).length,
      2,
      `${mode}: one curve`,
    );
  }
  assert.equal((lossSvg.match(/<polyline class="smoothed"/g) ?? []).length, 3, "smoothed over raw");
  for (const mode of ["full", "head", "lora"]) {
    assert.match(html, new RegExp(`${mode}: confusion matrix`));
  }
  assert.match(html, /Modes side by side/);
  assert.doesNotMatch(html, /<script|src=|href=|https?:\/\//, "no scripts and nothing fetched");
  if (!CHROMIUM) {
    console.warn(
      "report_test: chromium not installed (apt-get install chromium); skipping the screenshot",
    );
    return;
  }
  const shot = `${dir}/report.png`;
  const out = await new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${dir}/chrome`,
      "--window-size=1000,1600",
      `--screenshot=${shot}`,
      `file://${dir}/report.html`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const png = await Deno.readFile(shot);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4E, 0x47], "a PNG");
  // A blank 1000×1600 page compresses to a few KB; charts and tables make it far larger.
  assert.ok(png.length > 30_000, `screenshot is only ${png.length} bytes`);
});
