"""Sixty-third session: the H100's shipped one-task decode choices at 4 and 8 tokens (AHEAD 2 or 3, split-K) against
half their split-K with AHEAD 3 (half the programs, each walking twice the chunks, two ahead: one split-K epilogue
for twice the work), and each with EARLY, in turns with cuBLAS over 5 rounds (graph replays, L2 flushed by rotating
copies), each checked against the reference. argv[1]: the shipped file (default the H100's; the choices it holds
are timed on whichever GPU runs this). Prints a line per case; writes $OUT/split_half.json.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import shipped_choices, shipped_in_turns  # noqa: E402


def variants(shipped: dict, _key: str) -> dict[str, dict]:
    """The shipped choice, half its split-K two chunks ahead, and each of the two with EARLY (AHEAD forms only)."""
    if shipped.get("AHEAD", 0) < 2:
        return {}
    half = shipped | {"SPLIT_K": max(1, shipped["SPLIT_K"] // 2), "AHEAD": 3}
    early = {"EARLY": 1}
    return {"shipped": shipped, "shipped_early": shipped | early, "half": half, "half_early": half | early}


def main() -> None:
    shipped_in_turns(shipped_choices(sys.argv), variants, "split_half.json")


if __name__ == "__main__":
    main()
