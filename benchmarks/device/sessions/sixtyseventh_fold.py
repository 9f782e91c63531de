"""Sixty-seventh session, third run: KW's fold. Nsight Compute on the 4-token KW 8 choice (second run,
results/ncu_m4kw_h100_sixtyseventh.tgz) put 31 % of its warps' stall samples after the loop: the parts' sums, one
accumulator at a time through shared memory (11 barriers a program at 8 warps; short scoreboard and barrier stalls).
FOLD_TILE sums a tile's four accumulators in one trip (2 barriers, sm_90): against the shipped form on every key
that ships KW, and at 16 tokens on 4096x4096 (the MODE 4 choice ships there) the fragment kernel with
KW 8, W16 and FOLD_TILE (AHEAD 2 and 1). Prediction: 0.3-0.6 us off at 4 and 8 tokens on 4096x4096. argv as
sixtyfifth_push_waves.py (tokens 4,8,16)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sixtyfifth_push_waves import main  # noqa: E402

MMA16 = {"MODE": 5, "ROWS": 1, "WPL": 4, "num_warps": 8, "KW": 8, "SPLIT_K": 1, "W16": 1, "FOLD_TILE": 1}


def variants(shipped: dict) -> dict[str, dict]:
    """Each KW choice with FOLD_TILE; the 16-token MODE 4 choices against the fragment kernel's KW 8 form."""
    if shipped.get("MODE") == 4:
        return {"shipped": shipped, "mma16_kw8_a2": MMA16 | {"AHEAD": 2}, "mma16_kw8_a1": MMA16 | {"AHEAD": 1}}
    if shipped.get("KW", 1) == 1:
        return {}
    return {"shipped": shipped, "fold_tile": shipped | {"FOLD_TILE": 1}}


if __name__ == "__main__":
    main(variants, "fold.json", gprs=(1, 4))
