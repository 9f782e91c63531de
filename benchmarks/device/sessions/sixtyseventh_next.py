"""Sixty-seventh session, second run: the KW choices' loads. KW 8 (8 warps in 8 parts along K on one 16-row block;
sixtyseventh_kw.py) shipped on 4096x4096 at 4 and 8 tokens (9.93 -> 9.15 us at 4 tokens gpr 1 on the H100), but its
warps still wait on loads: the one-token kernel issues 0.51 instructions a cycle a scheduler at 6.3 cycles between a
warp's instructions (long scoreboard 1.26 of them), the 4-token kernel 0.38 at 9.5 (L1TEX 2.9). Variants:
- W16: a lane row's 4 words of a chunk in one 16-byte load (sm_90: 8 four-byte loads a chunk become 2; loop 235 ->
  229 instructions, 96 registers);
- AHEAD 3 (two chunks ahead; 128 registers, still two 8-warp programs an SM), with and without W16;
- WPL 8 (256-column chunks, twice the words a load in flight), with W16;
- for the split-K choices of the 11008-row shapes (2 warps): KW 2 at split 1 and half the split, each with W16,
  and W16 alone.
Prediction: W16 and AHEAD 3 take 0.3-0.6 us off at 4 tokens on 4096x4096 (more bytes in flight a warp). argv as
sixtyfifth_push_waves.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sixtyfifth_push_waves import main  # noqa: E402


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped fragment-kernel choice and its forms with more of its words in flight (W16, AHEAD 3, WPL 8) or,
    for a split-K choice of 2 warps, its split in the program (KW 2)."""
    if shipped.get("MODE") != 5 or shipped.get("PRELOAD") or shipped.get("PUSH"):
        return {}
    w16 = {"W16": 1}
    out = {"shipped": shipped, "w16": shipped | w16}
    if shipped.get("KW", 1) > 1:
        a3 = shipped | {"AHEAD": 3}
        return out | {"ahead3": a3, "ahead3_w16": a3 | w16, "wpl8_w16": shipped | w16 | {"WPL": 8}}
    if shipped.get("num_warps") == 2:
        split = shipped.get("SPLIT_K", 1)
        for s in sorted({1, max(1, split // 2)}):
            kw2 = shipped | {"KW": 2, "SPLIT_K": s}
            out |= {f"kw2_s{s}": kw2, f"kw2_s{s}_w16": kw2 | w16}
    return out


if __name__ == "__main__":
    main(variants, "kw_next.json", gprs=(1, 4))
