"""Seventy-fourth session: AHEAD 4 under a register cap where more tokens need more registers. The first call timed
AHEAD 4 at 16 tokens 30-45 % slower than the shipped AHEAD 2 choices; compiled here for sm_90 (Triton 3.6) the
16-token forms at AHEAD 4 take 154-155 registers in 8 warps (AHEAD 2: 127-128, two programs an SM; 155 fits one)
and 230 in the 4-warp two-row-block KW 4 form (AHEAD 2: 168, three programs; 230 fits two). Capped at the AHEAD 2
form's count (maxnreg 128 in 8 warps: 40 bytes of stack, no spill in the loop; 168 in 4 warps: 5 LDL.64 in the
loop) the occupancy is kept; the 8-token ROWS 2 KW 4 form of 11008x4096 gpr 4 (4 warps, WPL 8, 56 % slower at
AHEAD 4) alike. Each shipped one-task choice at AHEAD 2 or 3 against AHEAD 4 uncapped and capped at 128 registers
(two programs an SM in 8 warps, four in 4) and, in 4 warps, at 168 (three), in turns with cuBLAS
(bench_kernels.shipped_in_turns). argv[1]: token counts (default "8,16"); argv[2]: gprs (default "1,4").
Prediction: a capped form within 5 % of the shipped one, better where the ring's wait was the gap.
Writes $OUT/ahead4_capped.json."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import torch  # noqa: E402

from benchmarks.bench_kernels import shipped_in_turns  # noqa: E402
from kernels import autotune  # noqa: E402
from kernels.triton_decode import MODE_MMA  # noqa: E402

CAPS = {8: (128,), 4: (128, 168)}  # by warps: the register counts below which one more program fits an SM


def main() -> None:
    tokens = tuple(int(t) for t in (sys.argv[1] if len(sys.argv) > 1 else "8,16").split(","))
    gprs = tuple(int(g) for g in (sys.argv[2] if len(sys.argv) > 2 else "1,4").split(","))
    shipped = json.loads((autotune.SHIPPED_DIR / autotune.cache_path(torch.device("cuda")).name).read_text())

    def variants(choice: dict, key: str) -> dict:
        if choice.get("MODE") != MODE_MMA or choice.get("AHEAD", 0) not in (2, 3) or choice["num_warps"] not in CAPS:
            return {}
        capped = {f"ahead4_cap{cap}": choice | {"AHEAD": 4, "maxnreg": cap} for cap in CAPS[choice["num_warps"]]}
        return {"shipped": choice, "ahead4": choice | {"AHEAD": 4}} | capped

    shipped_in_turns(shipped, variants, "ahead4_capped.json", tokens=tokens, gprs=gprs)


if __name__ == "__main__":
    main()
