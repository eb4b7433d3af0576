// The safetensors format, rule by rule: each test writes a file that is valid except for one
// rule and expects the one-line error that names it (rules from the format's README and
// huggingface/safetensors' reader, listed in src/io/safetensors_header.ts).
import assert from "node:assert/strict";
import { readSafetensors, readSafetensorsAll } from "../src/io/safetensors.ts";
import { MAX_HEADER_SIZE } from "../src/io/safetensors_header.ts";
import { UserError } from "../src/errors.ts";

const enc = new TextEncoder();

/** A file from header text (padded with spaces to 8 bytes unless told) and data bytes. */
function fileBytes(header: string, data: Uint8Array, opts: { n?: number; pad?: boolean } = {}) {
  let h = enc.encode(header);
  if (opts.pad !== false) {
    const padded = new Uint8Array(h.length + (8 - h.length % 8) % 8).fill(0x20);
    padded.set(h);
    h = padded;
  }
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(opts.n ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** a: F32 [2] = [1.5, -2]; b: F16 [3] = [1, -2, 0.5]: 14 data bytes. */
function goodData(): Uint8Array {
  const d = new Uint8Array(14);
  const v = new DataView(d.buffer);
  v.setFloat32(0, 1.5, true);
  v.setFloat32(4, -2, true);
  [0x3C00, 0xC000, 0x3800].forEach((b, i) => v.setUint16(8 + i * 2, b, true));
  return d;
}

const A = `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`;
const B = `"b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]}`;
const GOOD = `{"__metadata__":{"format":"pt"},${A},${B}}`;

async function write(bytes: Uint8Array): Promise<string> {
  const file = `${await Deno.makeTempDir()}/x.safetensors`;
  await Deno.writeFile(file, bytes);
  return file;
}

async function assertRefused(bytes: Uint8Array, pattern: RegExp) {
  const file = await write(bytes);
  try {
    await assert.rejects(() => readSafetensorsAll(file), (e: Error) => {
      assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
      assert.ok(!e.message.includes("\n"), "one line");
      assert.ok(e.message.startsWith(`${file}: not a valid safetensors file: `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  } finally {
    await Deno.remove(file); // one of them is 100 MB
  }
}

Deno.test("safetensors: a valid file reads, with an empty tensor, a scalar and integer tensors kept by name", async () => {
  assert.deepEqual(
    Object.fromEntries(
      [...await readSafetensors(await write(fileBytes(GOOD, goodData())))].map((
        [k, t],
      ) => [k, [t.shape, Array.from(t.data)]]),
    ),
    { a: [[2], [1.5, -2]], b: [[3], [1, -2, 0.5]] },
  );
  // Tensors listed out of offset order, an empty one [0, 4] and a scalar: all valid.
  const data = new Uint8Array(12);
  new DataView(data.buffer).setFloat32(0, 7, true);
  new DataView(data.buffer).setBigInt64(4, 5n, true);
  const all = await readSafetensorsAll(
    await write(fileBytes(
      `{"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]},"e":{"dtype":"F32","shape":[0,4],"data_offsets":[4,4]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`,
      data,
    )),
  );
  assert.deepEqual(Array.from(all.get("s")!.data!), [7]);
  assert.deepEqual(all.get("e")!.shape, [0, 4]);
  assert.deepEqual(all.get("e")!.data!.length, 0);
  assert.deepEqual({ ...all.get("i")! }, { dtype: "I64", shape: [1], data: null });
});

Deno.test("safetensors rule: the file holds at least the 8 bytes of the header size", async () => {
  await assertRefused(new Uint8Array([8, 0, 0, 0]), /4 bytes, fewer than the 8 of the header size/);
});

Deno.test("safetensors rule: the header size is at most 100,000,000 bytes", async () => {
  // A real header of MAX_HEADER_SIZE + 1 bytes ("{}" and spaces), so only the bound is broken.
  const bytes = new Uint8Array(8 + MAX_HEADER_SIZE + 1).fill(0x20);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(MAX_HEADER_SIZE + 1), true);
  bytes.set(enc.encode("{}"), 8);
  await assertRefused(bytes, /header size 100000001 bytes exceeds the format's limit of 100000000/);
});

Deno.test("safetensors rule: the header lies inside the file", async () => {
  const good = fileBytes(GOOD, goodData());
  const n = good.length - 8 - 14;
  await assertRefused(
    fileBytes(GOOD, goodData(), { n: n + 100 }),
    new RegExp(
      `header size ${n + 100} bytes runs past the end of the file \\(${good.length} bytes\\)`,
    ),
  );
});

Deno.test("safetensors rule: the header is UTF-8", async () => {
  const bytes = fileBytes(GOOD, goodData());
  const at = new TextDecoder().decode(bytes).indexOf(`"a"`) + 1;
  bytes[at] = 0xFF; // the name "a" becomes one invalid byte
  await assertRefused(bytes, /the header is not valid UTF-8/);
});

Deno.test("safetensors rule: the header is JSON", async () => {
  await assertRefused(fileBytes(`{${A},${B},}`, goodData()), /the header is not valid JSON/);
});

Deno.test("safetensors rule: the header begins with '{'", async () => {
  await assertRefused(fileBytes(` ${GOOD}`, goodData()), /the header must begin with '\{'/);
});

Deno.test("safetensors rule: no duplicate keys, at any depth", async () => {
  await assertRefused(fileBytes(`{${A},${A},${B}}`, goodData()), /duplicate key "a" in the header/);
  await assertRefused(
    fileBytes(
      `{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]},${B}}`,
      goodData(),
    ),
    /duplicate key "dtype" inside "a"/,
  );
});

Deno.test("safetensors rule: __metadata__ maps strings to strings", async () => {
  await assertRefused(
    fileBytes(`{"__metadata__":{"format":"pt","step":1},${A},${B}}`, goodData()),
    /__metadata__ "step" must be a string, found 1/,
  );
  await assertRefused(
    fileBytes(`{"__metadata__":"pt",${A},${B}}`, goodData()),
    /__metadata__ must be an object of strings, found "pt"/,
  );
});

Deno.test("safetensors rule: every tensor is {dtype, shape, data_offsets}", async () => {
  await assertRefused(
    fileBytes(`{"a":[0,8],${B}}`, goodData()),
    /tensor a: expected \{dtype, shape, data_offsets\}, found \[0,8\]/,
  );
});

Deno.test("safetensors rule: the dtype is one the format defines", async () => {
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]},${B}}`, goodData()),
    /tensor a: unknown dtype "F33" \(known: BOOL, F4, /,
  );
});

Deno.test("safetensors rule: the shape is a list of non-negative integers", async () => {
  // [-1, -2] has the product 2 that the 8 bytes of F32 need: only the sign is wrong.
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F32","shape":[-1,-2],"data_offsets":[0,8]},${B}}`, goodData()),
    /tensor a: shape \[-1,-2\] must be a list of non-negative integers/,
  );
});

Deno.test("safetensors rule: data_offsets are two non-negative integers", async () => {
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]},${B}}`, goodData()),
    /tensor a: data_offsets \[0,8,8\] must be two non-negative integers/,
  );
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]},${B}}`, goodData()),
    /tensor a: data_offsets \[-8,0\] must be two non-negative integers \[begin, end\] inside the data buffer/,
  );
});

Deno.test("safetensors rule: a tensor's end is not before its begin", async () => {
  await assertRefused(
    fileBytes(
      `{"b":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"a":{"dtype":"F32","shape":[2],"data_offsets":[14,6]}}`,
      goodData(),
    ),
    /tensor a: data_offsets \[14, 6\] end before they begin/,
  );
});

Deno.test("safetensors rule: no hole between tensors", async () => {
  const data = new Uint8Array(18);
  await assertRefused(
    fileBytes(`{${A},"b":{"dtype":"F16","shape":[3],"data_offsets":[12,18]}}`, data),
    /tensor b begins at byte 12 of the data buffer but a ends at 8: a hole of 4 bytes/,
  );
  // Nor before the first tensor.
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, new Uint8Array(12)),
    /tensor a begins at byte 4 of the data buffer but the buffer starts at 0/,
  );
});

Deno.test("safetensors rule: no overlap between tensors", async () => {
  await assertRefused(
    fileBytes(`{${A},"b":{"dtype":"F16","shape":[3],"data_offsets":[4,10]}}`, new Uint8Array(10)),
    /tensor b begins at byte 4, inside a \(which ends at 8\): overlapping data/,
  );
});

Deno.test("safetensors rule: byte length = dtype size × product(shape)", async () => {
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]},${B}}`, goodData()),
    /tensor a: shape \[3\] F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
  );
  // Sub-byte dtypes: the elements must fill whole bytes (three F4 values are 12 bits).
  await assertRefused(
    fileBytes(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, new Uint8Array(2)),
    /tensor a: 3 F4 elements do not fill whole bytes/,
  );
  await assertRefused(
    fileBytes(
      `{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`,
      new Uint8Array(8),
    ),
    /tensor a: shape \[4294967296,4294967296\] overflows/,
  );
});

Deno.test("safetensors rule: the data buffer ends where the last tensor ends", async () => {
  await assertRefused(
    fileBytes(GOOD, new Uint8Array([...goodData(), 1, 2, 3, 4])),
    /the tensors cover 14 bytes of the data buffer, which holds 18: 4 bytes after the last tensor/,
  );
  await assertRefused(
    fileBytes(GOOD, goodData().subarray(0, 10)),
    /tensor b ends at byte 14 of the data buffer, which holds 10 bytes: truncated/,
  );
});
