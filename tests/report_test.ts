// The HTML report: written by `train --report`, self-contained, and rendered by headless Chromium.
import assert from "node:assert/strict";
import { fixtureTsv, runTask, writeTinyCheckpoint } from "./bert_fixture.ts";
import { isFile } from "./helpers.ts";
import { unzlibSync } from "fflate";

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's --screenshot writes). */
function decodePng(png: Uint8Array): { width: number; height: number; rgb: (i: number) => number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8, width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (pos < png.length) {
    const len = view.getUint32(pos), type = String.fromCharCode(...png.subarray(pos + 4, pos + 8));
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      assert.equal(data[8], 8, "8 bits per channel");
      assert.equal(data[12], 0, "not interlaced");
      channels = ({ 2: 3, 6: 4 } as Record<number, number>)[data[9]];
      assert.ok(channels, `colour type ${data[9]}`);
    } else if (type === "IDAT") idat.push(data);
    pos += 12 + len;
  }
  const raw = unzlibSync(new Uint8Array(idat.flatMap((d) => [...d])));
  const stride = width * channels, px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      px[y * stride + x] = (line[x] + pred) & 255;
    }
  }
  return {
    width,
    height,
    rgb: (i: number) =>
      (px[i * channels] << 16) | (px[i * channels + 1] << 8) | px[i * channels + 2],
  };
}

function screenshot(html: string, dir: string, name: string): Promise<Deno.CommandOutput> {
  return new Deno.Command(CHROMIUM!, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      `--user-data-dir=${dir}/chrome`,
      "--window-size=1000,1600",
      `--screenshot=${dir}/${name}`,
      `file://${html}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

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
  const out = await screenshot(`${dir}/report.html`, dir, "report.png");
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const png = await Deno.readFile(`${dir}/report.png`);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4E, 0x47], "a PNG");
  // A blank 1000×1600 page compresses to a few KB; charts and tables make it far larger.
  assert.ok(png.length > 30_000, `screenshot is only ${png.length} bytes`);

  // The legends alone: everything else in the charts hidden, the page's own CSS kept, so a rule
  // that paints legend entries grey shows up as missing colours.
  await Deno.writeTextFile(
    `${dir}/legend.html`,
    html.replace(
      "</style>",
      ".chart > :not(.legend) { visibility: hidden } table, h1, h2, p { visibility: hidden }</style>",
    ),
  );
  const legendOut = await screenshot(`${dir}/legend.html`, dir, "legend.png");
  assert.equal(legendOut.code, 0, new TextDecoder().decode(legendOut.stderr));
  const img = decodePng(await Deno.readFile(`${dir}/legend.png`));
  const counts = new Map<number, number>();
  for (let i = 0; i < img.width * img.height; i++) {
    counts.set(img.rgb(i), (counts.get(img.rgb(i)) ?? 0) + 1);
  }
  // Colours from the definition of the report (matplotlib's tab10 blue, orange, green); each
  // legend swatch is 12×12 px, and the loss chart and the metrics chart each have a legend.
  for (const [mode, colour] of [["full", 0x1f77b4], ["head", 0xff7f0e], ["lora", 0x2ca02c]]) {
    const n = counts.get(colour as number) ?? 0;
    assert.ok(n >= 2 * 100, `${mode}: ${n} pixels of #${colour.toString(16)} in the legends`);
  }
});
