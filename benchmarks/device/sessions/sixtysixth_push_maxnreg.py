"""Sixty-sixth session: PUSH without the tail wave. sixtyfifth_push_waves.py on the H100 found the shipped split-8
choice (8 warps, 93-95 registers) fits two programs an SM: 264 plain, but as clusters of 8 only 30 clusters (240
CTAs) of its 256 at once, so a tail wave of 2 clusters follows (ncu: elapsed 22.9k cycles against 18.8k, SM active
cycles 12.4k against 13.2k). Capped at 80 registers (compiled for sm_90 here with Triton 3.6: 79-80 registers, no
spills at AHEAD 2; AHEAD 3 spills 112 bytes, so its choice is also tried at AHEAD 2) three programs fit an SM, and
the 256 as clusters should fit at once. Prediction: PUSH at the cap beats the shipped choice by ~1 us at 4 tokens.
Also the plain kernel at the cap with split 12 (384 programs, all resident: 24 warps an SM instead of 16, more
loads in flight); AHEAD 1 (64 registers uncapped: four programs an SM; the loop 3.42 instructions a lane's
weight against AHEAD 2's 3.67) at split 12 and 16; and at 16 tokens the fragment kernel with three programs an SM
(MMA16). The profile says the shipped kernel issues every 2.6 cycles a scheduler at 4 warps each, its loop ~2 us
of issue at one a cycle: more warps an SM is the lever. argv as sixtyfifth_push_waves.py (tokens 4,8,16 here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sixtyfifth_push_waves import main  # noqa: E402

CAP = {"maxnreg": 80}


# The fragment kernel at 16 tokens (two tiles of 8), 8 warps, AHEAD 1: 79 registers uncapped (sm_90, Triton 3.6),
# so three programs an SM; the 16-token keys ship the dequantizing kernel (MODE 4) on the 4096-row shapes
MMA16 = {"MODE": 5, "num_warps": 8, "ROWS": 1, "WPL": 4, "AHEAD": 1}


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped split-8 choice of 8 warps, capped, with and without PUSH, and capped at split 12 and 16; for a
    16-token MODE 4 choice, the fragment kernel of MMA16 at split 8 (with and without PUSH), 12 and 16."""
    if shipped.get("MODE") == 4:
        return {"shipped": shipped} | {f"mma16_split{s}": MMA16 | {"SPLIT_K": s} for s in (8, 12, 16)} | {
            "mma16_split8_push": MMA16 | {"SPLIT_K": 8, "PUSH": 1}}
    if shipped.get("SPLIT_K") != 8 or shipped.get("num_warps") != 8:
        return {}
    capped = shipped | CAP | ({"AHEAD": 2} if shipped.get("AHEAD") == 3 else {})  # AHEAD 3 spills at the cap
    ahead1 = {key: v for key, v in shipped.items() if key != "EARLY"} | {"AHEAD": 1}  # 64 registers: four an SM
    return {"shipped": shipped, "push": shipped | {"PUSH": 1}, "cap80": capped, "cap80_push": capped | {"PUSH": 1},
            "cap80_split12": capped | {"SPLIT_K": 12}, "cap80_split16": capped | {"SPLIT_K": 16},
            "ahead1_split12": ahead1 | {"SPLIT_K": 12}, "ahead1_split16": ahead1 | {"SPLIT_K": 16}}


if __name__ == "__main__":
    main(variants, "push_maxnreg.json", gprs=(1, 4))
