// embeddingSum: BERT's three embedding lookups and their sum in one kernel, forward beside
// backward in shaders/embedding_sum.wgsl.
import { Tensor } from "../tensor.ts";
import { gpu, grid1d } from "../gpu/kernel.ts";
import { record, temporary, zeroedGrad } from "../autograd/tape.ts";
import { embedding } from "./embedding.ts";
import { add } from "./add.ts";

/**
 * out (R, C) = (word[ids] + position[positions]) + tokenType[typeIds], Hugging Face
 * BertEmbeddings' sum before its LayerNorm: word (V, C), position (P, C), tokenType (T, C), each
 * id tensor (R) u32. One dispatch forward, and one backward that scatter-adds dOut into the
 * gradient of each table that requires one. A table larger than one storage binding (a
 * multilingual vocabulary) takes the composed path instead: embedding() binds it window by
 * window. Ids are the caller's to check (makeBatch refuses ids outside the vocabulary); one past
 * its table reads zeros and scatters nothing rather than reading another row.
 */
export function embeddingSum(
  [word, position, tokenType]: readonly [Tensor, Tensor, Tensor],
  [ids, positions, typeIds]: readonly [Tensor, Tensor, Tensor],
): Tensor {
  const tables = [word, position, tokenType];
  const cols = word.shape[1];
  if (tables.some((t) => t.shape.length !== 2 || t.shape[1] !== cols)) {
    throw new Error(
      `embeddingSum: expected 2-D tables of one width, got [${word.shape}], ` +
        `[${position.shape}], [${tokenType.shape}]`,
    );
  }
  const rows = ids.size;
  if ([ids, positions, typeIds].some((t) => t.dtype !== "u32" || t.size !== rows)) {
    throw new Error(
      `embeddingSum: expected three u32 id tensors of ${rows} ids, got ` +
        `${[ids, positions, typeIds].map((t) => `${t.dtype} [${t.shape}]`).join(", ")}`,
    );
  }
  const rt = gpu();
  if (tables.some((t) => rt.windows(t.bytes, cols * 4).length > 1)) {
    return add(
      add(embedding(word, ids), embedding(position, positions)),
      embedding(tokenType, typeIds),
    );
  }
  const vec4 = cols % 4 === 0;
  const c = vec4 ? cols / 4 : cols;
  const ints = [rows, c, ...tables.map((t) => t.shape[0])];
  const out = Tensor.empty([rows, cols]);
  rt.dispatch(
    {
      shader: "embedding_sum.wgsl",
      entry: vec4 ? "embedding_sum_forward4" : "embedding_sum_forward",
    },
    [
      word.buffer,
      position.buffer,
      tokenType.buffer,
      ids.buffer,
      positions.buffer,
      typeIds.buffer,
      out.buffer,
    ],
    ints,
    [],
    grid1d(rows * c, 256),
  );
  return record(out, tables, (dOut) => {
    // Straight into the (zeroed) gradients; a table that wants none gets scratch of its own
    // (WebGPU refuses one buffer on two writable bindings of a dispatch whose ranges overlap;
    // gradients in one optimizer slab are bound as their own ranges, see Runtime.whole).
    const grads = tables.map((t) => t.requiresGrad ? zeroedGrad(t).buffer : null);
    rt.dispatch(
      {
        shader: "embedding_sum.wgsl",
        entry: vec4 ? "embedding_sum_backward4" : "embedding_sum_backward",
        constants: {
          WANT_WORD: grads[0] ? 1 : 0,
          WANT_POSITION: grads[1] ? 1 : 0,
          WANT_TYPE: grads[2] ? 1 : 0,
        },
      },
      [
        dOut.buffer,
        ids.buffer,
        positions.buffer,
        typeIds.buffer,
        ...grads.map((g) => g ?? temporary(Tensor.empty([4])).buffer),
      ],
      ints,
      [],
      [Math.ceil(c / 64)],
    );
  }, [ids, positions, typeIds]);
}
