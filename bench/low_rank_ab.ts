// LoRA's rank-r products on the low_rank kernels (one row per lane, "single"; the register tiles
// with dXa and dB as two dispatches, "tiled2", and as one, "tiled") against the matmul they
// replace (with its Aᵀ transposes where the adapter materializes them), in one process,
// alternating step by step so all see the same machine load:
// `deno run -A bench/low_rank_ab.ts [--model bert-tiny] [--rounds 4]`.
// Prints, per round and as medians, one LoRA step's wall and GPU milliseconds (bench/profile.ts)
// and the GPU milliseconds of the kernels that differ (low_rank, the small matmul, transpose12).
import { intFlag, parseFlags, run } from "../src/cli/common.ts";
import { setLowRankDyFused, setLowRankKernel, setLowRankTile } from "../src/ops/low_rank.ts";
import { profileStep } from "./profile.ts";

const DIFFERING = /low_rank|matmul_vec4_small_forward|transpose12_forward/;

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

if (import.meta.main) {
  run(async () => {
    const { values: v } = parseFlags("bench/low_rank_ab.ts", {
      model: { type: "string", default: "bert-tiny" },
      rounds: { type: "string" },
    });
    const rounds = intFlag("rounds", v.rounds as string | undefined, 4);
    const runs: Record<string, number[][]> = { matmul: [], single: [], tiled2: [], tiled: [] };
    for (let i = 0; i < rounds; i++) {
      for (const name of Object.keys(runs)) {
        setLowRankKernel(name !== "matmul");
        if (name !== "matmul") setLowRankTile(name === "single" ? "single" : "tiled");
        setLowRankDyFused(name !== "tiled2");
        const { totalMs, wallMs, byKernel } = await profileStep(v.model as string, "lora");
        const differing = byKernel.filter(([k]) => DIFFERING.test(k));
        const ms = differing.reduce((s, [, m]) => s + m, 0);
        runs[name].push([wallMs, totalMs, ms]);
        const parts = differing.map(([k, m, n]) => `${k.split(":")[1]} ${m.toFixed(1)} ms/${n}`);
        console.log(
          `${name.padEnd(8)} step ${wallMs.toFixed(1)} ms wall, ${totalMs.toFixed(1)} ms GPU; ` +
            parts.join(", "),
        );
      }
    }
    setLowRankKernel(null);
    setLowRankTile(null);
    setLowRankDyFused(null);
    for (const [name, r] of Object.entries(runs)) {
      const [wall, total, ms] = [0, 1, 2].map((j) => median(r.map((x) => x[j])));
      console.log(
        `${name}: median step ${wall.toFixed(1)} ms wall, ${total.toFixed(1)} ms GPU, of which ` +
          `${ms.toFixed(1)} ms in low_rank / small matmul / transpose12`,
      );
    }
  });
}
