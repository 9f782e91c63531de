"""Sixty-fourth session, for the next: the H100's shipped one-task decode choices at 4 and 8 tokens against the same
with PUSH (the split's programs as one cluster, the partials pushed into their rows' owner CTA: kernels/
split_k_push.py), where their split-K is 2, 4 or 8 and divides their warps (the 4096x4096 keys: 8 warps at split 8),
in turns with cuBLAS over 5 rounds (graph replays, L2 flushed by rotating copies), each checked against the
reference. argv[1]: the shipped file (default the H100's). Prints a line per case; writes $OUT/push_ab.json.
Prediction (the bare sums, cluster_sum_timing.py): 0.7-1.0 us off at 4 tokens (9.3-10.7 us), 1.2-1.6 at 8.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import shipped_choices, shipped_in_turns  # noqa: E402


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped choice and the same with PUSH, where its split-K is 2, 4 or 8 and divides its warps."""
    split = shipped.get("SPLIT_K", 1)
    if split not in (2, 4, 8) or shipped.get("num_warps", 4) % split:
        return {}
    return {"shipped": shipped, "push": shipped | {"PUSH": 1}}


def main() -> None:
    shipped_in_turns(shipped_choices(sys.argv), variants, "push_ab.json")


if __name__ == "__main__":
    main()
