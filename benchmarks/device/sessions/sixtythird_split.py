"""Sixty-third session: the H100's shipped one-task decode choices at 4 and 8 tokens (AHEAD 2 or 3, split-K) against
half their split-K with AHEAD 3 (half the programs, each walking twice the chunks, two ahead: one split-K epilogue
for twice the work), and each with EARLY, in turns with cuBLAS over 5 rounds (graph replays, L2 flushed by rotating
copies), each checked against the reference. argv[1]: the shipped file (default the H100's; the choices it holds
are timed on whichever GPU runs this). Prints a line per case; writes $OUT/split_half.json.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, checked_launch, cublas_fns, layers, make_batch, rotating, turns_us  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped choice, half its split-K two chunks ahead, and each of the two with EARLY."""
    half = shipped | {"SPLIT_K": max(1, shipped["SPLIT_K"] // 2), "AHEAD": 3}
    early = {"EARLY": 1}
    return {"shipped": shipped, "shipped_early": shipped | early, "half": half, "half_early": half | early}


def main() -> None:
    shipped = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json")
                         .read_text())  # fmt: skip
    rows = []
    for n, k, gpr, layer in layers():
        for m in (4, 8):
            choice = shipped.get(f"decode|{m},{n},{k},4,{gpr},torch.float16,torch.float16")
            if not choice or choice.get("AHEAD", 0) < 2:
                continue
            x, slots = make_batch(m, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {"cublas": rotating(cublas_fns(layer, x))}, {}
            for label, cfg in variants(choice).items():
                launches[label], errs[label] = checked_launch(launch_decode, layer, x, slots, ref, cfg)
            us = turns_us(launches, rounds=5)
            rows.append({"N": n, "K": k, "gpr": gpr, "M": m, "config": choice, "us": us, "err": errs})
            print(f"{m} tokens {n}x{k} gpr {gpr}: " + " | ".join(f"{label} {t:.2f}" for label, t in us.items())
                  + f" | max err {max(errs.values()):.1e} | {choice}", flush=True)  # fmt: skip
    (Path(os.environ.get("OUT", ".")) / "split_half.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
