"""Sixty-fifth session: why PUSH lost (sixtyfourth_push_ab.py on the H100: the shipped 4-token 4096x4096 choice,
split 8 over 8 warps, 9.95 -> 12.70 us; 4096x11008 20.2 -> 27.4) while the push bare costs a fifth of the global
sum (cluster_sum_timing.py: +0.36 against +1.82 us). Hypothesis: waves. The shipped grid is 256 programs of 8 warps,
all resident at once at two an SM (132 SMs); as clusters of 8 they must sit in one GPC together, fewer fit, and
a tail wave follows. Test: the same choices with half the programs (split 4, or two row blocks a warp), or with 4
warps at split 4 (256 programs, half the size), each with and without PUSH, in turns with cuBLAS (gpr 1, 4 and 8
tokens). Prediction: with 128 programs PUSH wins by ~1 us (4 tokens) to ~1.5 (8), and beats the shipped choice.
Then, for each kernel launched as clusters, the driver's count of the CTAs resident at once plainly and as
clusters (cluster_occupancy.resident). argv[1]: the shipped file (default the H100's); argv[2]: the token counts
(default 4,8)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import shipped_choices, shipped_in_turns  # noqa: E402
from cluster_occupancy import resident  # noqa: E402

from kernels import split_k_push  # noqa: E402

_made_clusters = {}  # id -> (compiled kernel, ctas): each kernel the variants launched as clusters


def _recording_as_cluster(compiled, ctas: int, _as_cluster=split_k_push.as_cluster) -> None:
    _as_cluster(compiled, ctas)
    compiled = compiled.result() if hasattr(compiled, "result") else compiled
    _made_clusters[id(compiled)] = (compiled, ctas)


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped choice and its half-grid forms (split 4; two row blocks a warp), each with and without PUSH."""
    if shipped.get("SPLIT_K") != 8 or shipped.get("num_warps") != 8:
        return {}
    half = {"split4": shipped | {"SPLIT_K": 4}, "rows2": shipped | {"ROWS": 2},
            "w4split4": shipped | {"num_warps": 4, "SPLIT_K": 4}}  # 256 programs of 4 warps: five an SM fit
    return {"shipped": shipped, "push": shipped | {"PUSH": 1}} | half | {
        f"{label}_push": cfg | {"PUSH": 1} for label, cfg in half.items()}


def main(variants_of=variants, out_name: str = "push_waves.json", gprs: tuple[int, ...] = (1,)) -> None:
    """variants_of(shipped choice) -> {label: config}, timed in turns (shipped_in_turns) into $OUT/out_name; then the
    occupancy of each kernel launched as clusters."""
    tokens = tuple(int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "4,8").split(","))
    split_k_push.as_cluster = _recording_as_cluster  # cluster_launch looks it up at each call
    shipped_in_turns(shipped_choices(sys.argv), variants_of, out_name, tokens=tokens, gprs=gprs)
    for compiled, ctas in _made_clusters.values():  # the driver's count of what fits at once, plain and as clusters
        print(f"{compiled.metadata.num_warps} warps, {compiled.n_regs} registers, clusters of {ctas}:",
              resident(compiled, ctas), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
