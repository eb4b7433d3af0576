// Reads back GPU timestamps written at the beginning and end of each of n compute passes.

/**
 * Milliseconds of GPU time of each of `n` passes whose timestamps sit in `querySet` as pairs
 * (2i at the beginning of pass i, 2i + 1 at its end), in pass order. Resolves the queries into a
 * buffer, copies that to a mappable one and waits for it (WebGPU timestamp queries, nanoseconds).
 */
export async function passMilliseconds(
  device: GPUDevice,
  querySet: GPUQuerySet,
  n: number,
): Promise<number[]> {
  const bytes = n * 16;
  const resolved = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const ce = device.createCommandEncoder();
  ce.resolveQuerySet(querySet, 0, 2 * n, resolved, 0);
  ce.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
  device.queue.submit([ce.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const ts = new BigUint64Array(staging.getMappedRange());
  const ms = Array.from({ length: n }, (_, i) => Number(ts[2 * i + 1] - ts[2 * i]) / 1e6);
  staging.unmap();
  [resolved, staging].forEach((b) => b.destroy());
  return ms;
}

/**
 * Ends the runtime's open compute pass and opens one that writes timestamps 2i and 2i + 1 of
 * `querySet` at its beginning and end, so the next dispatch runs, and is timed, alone. `r` is the
 * runtime seen through `any`: its encoder and pass are private.
 */
// deno-lint-ignore no-explicit-any
export function beginTimedPass(r: any, device: GPUDevice, querySet: GPUQuerySet, i: number): void {
  r.pass?.end();
  r.encoder ??= device.createCommandEncoder();
  r.pass = r.encoder.beginComputePass({
    timestampWrites: {
      querySet,
      beginningOfPassWriteIndex: 2 * i,
      endOfPassWriteIndex: 2 * i + 1,
    },
  });
}
