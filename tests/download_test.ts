// Downloads against a local HTTP server on 127.0.0.1 serving fixture files: hub model files with a
// token and a cache a second run reuses, a 404, an interrupted transfer, a wrong SMS archive.
import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { fetchHubModel, fetchSmsZip, hubCacheDir } from "../src/io/download.ts";
import { loadSms } from "../src/data/sms.ts";
import { UserError } from "../src/errors.ts";
import { runTask, writeTinyCheckpoint } from "./bert_fixture.ts";

type Route = { body: Uint8Array; status?: number; cutAfter?: number; headers?: HeadersInit };

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

function serve(routes: Map<string, Route>) {
  const seen: { path: string; auth: string | null }[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: () => new Response(null, { status: 500 }),
  }, (req) => {
    const path = new URL(req.url).pathname;
    seen.push({ path, auth: req.headers.get("authorization") });
    const r = routes.get(path);
    if (!r) return new Response("not found", { status: 404 });
    if (r.cutAfter !== undefined) {
      // Promise the whole file, send part of it, then break the connection.
      const stream = new ReadableStream({
        start(c) {
          c.enqueue(r.body.subarray(0, r.cutAfter));
          setTimeout(() => c.error(new Error("connection lost")), 20);
        },
      });
      return new Response(stream, { headers: { "content-length": String(r.body.length) } });
    }
    return new Response(r.body as Uint8Array<ArrayBuffer>, {
      status: r.status ?? 200,
      headers: r.headers,
    });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => server.shutdown() };
}

async function tinyRepoFiles(): Promise<Map<string, Route>> {
  const dir = await Deno.makeTempDir();
  await writeTinyCheckpoint(dir);
  const routes = new Map<string, Route>();
  for (const f of ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]) {
    // The hub's headers: the branch's commit, and an ETag that names the blob.
    routes.set(`/org/tiny/resolve/main/${f}`, {
      body: await Deno.readFile(`${dir}/${f}`),
      headers: { "x-repo-commit": COMMIT, etag: `"etag-${f.replace(".", "-")}"` },
    });
  }
  return routes;
}

function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, Deno.env.get(k)]));
  Object.entries(env).forEach(([k, v]) => Deno.env.set(k, v));
  return fn().finally(() =>
    Object.entries(before).forEach((
      [k, v],
    ) => (v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v)))
  );
}

const quiet = () => {};

Deno.test("download: hub files with HF_TOKEN into HF_HOME; a second run reuses the cache without network", async () => {
  const srv = serve(await tinyRepoFiles());
  const home = await Deno.makeTempDir();
  try {
    await withEnv({ HF_ENDPOINT: srv.url, HF_HOME: home, HF_TOKEN: "hf_secret" }, async () => {
      const dir = await fetchHubModel("org/tiny", quiet);
      // transformers' layout: refs/main → snapshots/COMMIT/F → ../../blobs/ETAG.
      const repo = `${home}/hub/models--org--tiny`;
      assert.equal(dir, `${repo}/snapshots/${COMMIT}`);
      assert.equal(await Deno.readTextFile(`${repo}/refs/main`), COMMIT);
      assert.equal(
        await Deno.readLink(`${dir}/model.safetensors`),
        "../../blobs/etag-model-safetensors",
      );
      assert.ok((await Deno.stat(`${dir}/model.safetensors`)).size > 0);
      assert.deepEqual(
        await Deno.readFile(`${repo}/blobs/etag-config-json`),
        await Deno.readFile(`${dir}/config.json`),
      );
      assert.ok(srv.seen.every((s) => s.auth === "Bearer hf_secret"), "token sent");
      assert.ok(
        srv.seen.some((s) => s.path.endsWith("tokenizer.json")),
        "optional files asked for",
      );
      const requests = srv.seen.length;
      assert.equal(await fetchHubModel("org/tiny", quiet), dir);
      assert.equal(srv.seen.length, requests, "no request for a cached model");
      // Through the CLI: --model takes the hub id.
      const r = await runTask("predict", ["--model", "org/tiny", "--json", "hello world"], {
        HF_ENDPOINT: srv.url,
        HF_HOME: home,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).text, "hello world");
      assert.equal(srv.seen.length, requests, "the CLI used the cache");
    });
  } finally {
    await srv.close();
  }
});

Deno.test("download: a 404 repo and an unreachable endpoint give one line saying what to download and where", async () => {
  const srv = serve(new Map());
  const home = await Deno.makeTempDir();
  try {
    await withEnv({ HF_ENDPOINT: srv.url, HF_HOME: home }, async () => {
      await assert.rejects(() => fetchHubModel("org/missing", quiet), (e: Error) => {
        assert.ok(e instanceof UserError);
        assert.match(
          e.message,
          /org\/missing was not found on http:\/\/127\.0\.0\.1:\d+; to work offline, download config\.json, .* into .*models--org--missing\/snapshots\/main or pass --model DIR/,
        );
        assert.ok(!e.message.includes("\n"));
        return true;
      });
      assert.equal(
        await Deno.stat(`${hubCacheDir("org/missing")}/config.json`).catch(() => null),
        null,
      );
    });
  } finally {
    await srv.close();
  }
  await withEnv({ HF_ENDPOINT: "http://127.0.0.1:9", HF_HOME: home }, async () => {
    await assert.rejects(
      () => fetchHubModel("org/offline", quiet),
      /cannot reach http:\/\/127\.0\.0\.1:9\/org\/offline\/resolve\/main\/.*to work offline, download/,
    );
  });
});

Deno.test("download: a repo whose weights are only pytorch_model.bin or sharded is refused, not trained from a random init", async () => {
  for (
    const [other, why] of [
      ["pytorch_model.bin", /PyTorch weights, which this engine cannot read; convert them/],
      ["model.safetensors.index.json", /read from a folder only: download the model's folder/],
    ] as const
  ) {
    const routes = await tinyRepoFiles();
    routes.delete("/org/tiny/resolve/main/model.safetensors");
    routes.set(`/org/tiny/resolve/main/${other}`, { body: new Uint8Array(8) });
    const srv = serve(routes);
    const home = await Deno.makeTempDir();
    try {
      await withEnv({ HF_ENDPOINT: srv.url, HF_HOME: home }, async () => {
        await assert.rejects(() => fetchHubModel("org/tiny", quiet), (e: Error) => {
          assert.ok(e instanceof UserError);
          assert.match(
            e.message,
            new RegExp(`/org/tiny/resolve/main/${other.replaceAll(".", "\\.")}: `),
          );
          assert.match(e.message, why);
          return true;
        });
        // Nothing half-made is cached: the next run asks again.
        assert.equal(
          await Deno.stat(`${hubCacheDir("org/tiny")}/config.json`).catch(() => null),
          null,
        );
      });
    } finally {
      await srv.close();
    }
  }
});

Deno.test("download: an interrupted transfer leaves no cache entry and no partial file", async () => {
  const routes = await tinyRepoFiles();
  const weights = routes.get("/org/tiny/resolve/main/model.safetensors")!;
  routes.set("/org/tiny/resolve/main/model.safetensors", { ...weights, cutAfter: 100 });
  const srv = serve(routes);
  const home = await Deno.makeTempDir();
  try {
    await withEnv({ HF_ENDPOINT: srv.url, HF_HOME: home }, async () => {
      await assert.rejects(
        () => fetchHubModel("org/tiny", quiet),
        /download of .*model\.safetensors was interrupted .*nothing was cached, run again/,
      );
      const repo = `${home}/hub/models--org--tiny`;
      assert.equal(await Deno.stat(`${repo}/refs/main`).catch(() => null), null, "no ref");
      assert.equal(await Deno.stat(`${repo}/snapshots`).catch(() => null), null, "no snapshot");
      const left = [];
      for await (const e of Deno.readDir(`${repo}/blobs`)) left.push(e.name);
      assert.deepEqual(left, [], `partial files left: ${left}`);
      routes.set("/org/tiny/resolve/main/model.safetensors", weights);
      const ok = await fetchHubModel("org/tiny", quiet);
      assert.equal(
        (await Deno.stat(`${ok}/model.safetensors`)).size,
        weights.body.length,
        "the next run completes it",
      );
    });
  } finally {
    await srv.close();
  }
});

Deno.test("download: the SMS zip is checked (5,574 messages) before it is cached, then reused", async () => {
  const lines =
    Array.from({ length: 5574 }, (_, i) => `${i % 7 ? "ham" : "spam"}\tmessage ${i}`).join("\n") +
    "\n";
  const good = zipSync({ SMSSpamCollection: new TextEncoder().encode(lines) });
  const bad = zipSync({ SMSSpamCollection: new TextEncoder().encode("ham\tonly one line\n") });
  const srv = serve(new Map([["/good.zip", { body: good }], ["/bad.zip", { body: bad }]]));
  const cache = await Deno.makeTempDir();
  const verify = async (f: string) => (await loadSms(f)).length;
  try {
    await assert.rejects(
      () => fetchSmsZip(cache, { url: `${srv.url}/bad.zip`, verify }),
      /expected 5574 messages, found 1\); nothing was cached/,
    );
    await assert.rejects(() => Deno.stat(`${cache}/smsspamcollection.zip`));
    await assert.rejects(
      () => fetchSmsZip(cache, { url: `${srv.url}/none.zip`, verify }),
      /HTTP 404; download .*none\.zip yourself and put it at .*smsspamcollection\.zip, or pass --data FILE/,
    );
    const file = await fetchSmsZip(cache, { url: `${srv.url}/good.zip`, verify });
    assert.equal((await loadSms(file)).length, 5574);
    const n = srv.seen.length;
    await fetchSmsZip(cache, { url: `${srv.url}/good.zip`, verify });
    assert.equal(srv.seen.length, n, "cached");
  } finally {
    await srv.close();
  }
});

Deno.test("download: a model transformers cached (HF_HUB_CACHE, refs/main, snapshots, blobs) is used offline", async () => {
  const src = await Deno.makeTempDir();
  await writeTinyCheckpoint(src);
  const cache = await Deno.makeTempDir();
  const repo = `${cache}/models--org--prewritten`;
  const rev = "fedcba9876543210fedcba9876543210fedcba98";
  await Deno.mkdir(`${repo}/blobs`, { recursive: true });
  await Deno.mkdir(`${repo}/refs`);
  await Deno.mkdir(`${repo}/snapshots/${rev}`, { recursive: true });
  await Deno.writeTextFile(`${repo}/refs/main`, rev);
  for (const f of ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]) {
    const blob = `blob-${f.replace(".", "-")}`;
    await Deno.copyFile(`${src}/${f}`, `${repo}/blobs/${blob}`);
    await Deno.symlink(`../../blobs/${blob}`, `${repo}/snapshots/${rev}/${f}`);
  }
  const env = { HF_HUB_CACHE: cache, HF_HOME: "/nonexistent", HF_ENDPOINT: "http://127.0.0.1:9" };
  await withEnv(env, async () => {
    assert.equal(await fetchHubModel("org/prewritten", quiet), `${repo}/snapshots/${rev}`);
  });
  const r = await runTask("predict", ["--model", "org/prewritten", "--json", "hello"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).text, "hello");
});
