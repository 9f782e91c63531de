"""Sixty-seventh session: the split-K sum inside the program (KW). The shipped 4- and 8-token choice on 4096x4096
(8 warps of 16 rows each, split-K 8: 256 programs) sums its 8 partials through the workspace: each program stores
its partial, fences and counts its arrival, and the row tile's last program loads the 8 partials and writes y,
~1.8 us on the critical path by the sixty-second session's stamps. The one-token kernel has no such epilogue and,
compiled for sm_90, spends more instructions a weight in its loop (4.8 against 3.67; both on Triton 3.6) yet takes
~7.2 us against the 4-token kernel's 9.9. With KW 8 the same 8 warps sit on one 16-row block and split its K range
among them (each warp the same 16 rows x 512 columns it had), summed through 1 KB of shared memory at the end:
the same 256 programs, the same loop (235 instructions, 95 registers on sm_90), no workspace, no arrival.
Prediction: 9.9 -> ~8.5 us at 4 tokens on 4096x4096 (the epilogue's round trips gone, its barrier left), the same
at 8 tokens; where the shipped choice has 2 warps, KW 2 halves its split instead. Variants (each shipped MODE 5
choice without PRELOAD): all its warps along K (KW = warps, the split divided by them), 8 warps along K, 4 warps
along K, and 8 warps as 2 row blocks x 4 parts; those the launcher refuses at a shape (K ranges that do not split
into whole chunks a part, or parts across LUT groups) are left out. At 16 tokens, where the 4096-row shapes ship
the dequantizing kernel (MODE 4), the fragment kernel with KW against it. argv as sixtyfifth_push_waves.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sixtyfifth_push_waves import main  # noqa: E402

# At 16 tokens the 4096-row shapes ship the dequantizing kernel (MODE 4); the fragment kernel with KW against it
MMA16 = {"MODE": 5, "ROWS": 1, "WPL": 4}


def variants(shipped: dict) -> dict[str, dict]:
    """The shipped fragment-kernel choice and its forms with the split-K sum (partly) inside the program; for a
    MODE 4 choice (16 tokens), the fragment kernel with KW (8 warps in 8 parts, 4 in 4 at split 2; AHEAD 2 and 1)."""
    if shipped.get("MODE") == 4:
        return {"shipped": shipped} | {
            f"mma16_w{w}kw{w}_a{a}": MMA16 | {"num_warps": w, "KW": w, "SPLIT_K": 8 // w, "AHEAD": a}
            for w in (8, 4) for a in (2, 1)}
    if shipped.get("MODE") != 5 or shipped.get("PRELOAD") or shipped.get("PUSH"):
        return {}
    warps, split = shipped.get("num_warps", 4), shipped.get("SPLIT_K", 1)
    out = {"shipped": shipped}
    if split % warps == 0:  # each warp the K range a program had
        out[f"kw{warps}"] = shipped | {"KW": warps, "SPLIT_K": split // warps}
    for w, kw in ((8, 8), (4, 4), (8, 4)):
        if (w, kw) != (warps, warps):
            out[f"w{w}kw{kw}"] = shipped | {"num_warps": w, "KW": kw, "SPLIT_K": max(1, split // kw)}
    # K = 11008 is 43 x 256 columns: 4 parts of 43 64-column chunks (one LUT group each at gpr 4), one split
    out["w4kw4_wpl2"] = shipped | {"num_warps": 4, "KW": 4, "WPL": 2, "SPLIT_K": 1}
    return out


if __name__ == "__main__":
    main(variants, "kw.json", gprs=(1, 4))
