"""Sixty-ninth session (written without a device; for the next one's first call): more warps an SM. The 4-token grid
on 4096x4096 is 256 programs of 8 warps in 8 parts (the shipped KW 8 form), two an SM: 16 warps, ~4 a scheduler,
and Nsight saw them waiting (long scoreboard 2.6 and "wait" 1.5 cycles an issued instruction, sixty-seventh
session). A register cap adds no programs an SM (the grid holds only ~2 an SM). 16-warp programs in 16 parts under
a cap of 64 registers put 32 warps on an SM, each over 256 columns (sm_90, Triton 3.6: no local memory in the loop):
- kw16_a1: 4 words a lane (128-column chunks), each chunk's words and x asked for at its start (AHEAD 1), W16;
- kw16_wpl2: 2 words a lane (64-column chunks), one chunk ahead (AHEAD 2) with EARLY.
Prediction: if the waits are latency with too few warps to cover it, 0.5-1 us off at 4 and 8 tokens on 4096x4096;
the preloaded KW 16 form (32 warps an SM) lost to the preloaded KW 8 (16) by 6-8 % in this session, which argues for
a tie or a loss. argv as sixtyfifth_push_waves.py (the shipped file, the token counts); results in
$OUT/kw16.json."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sixtyfifth_push_waves import main  # noqa: E402

KW16 = {"MODE": 5, "ROWS": 1, "SPLIT_K": 1, "num_warps": 16, "KW": 16, "maxnreg": 64}


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped choice and the two 16-warp forms (the launcher refuses them where K does not split in 16 parts)."""
    return {"shipped": shipped, "kw16_a1": KW16 | {"WPL": 4, "AHEAD": 1, "W16": 1},
            "kw16_wpl2": KW16 | {"WPL": 2, "AHEAD": 2, "EARLY": 1}}


if __name__ == "__main__":
    main(variants, "kw16.json", gprs=(1, 4))
