"""Seventy-third session: AHEAD 4 (kernels/triton_decode_mma.py _group_loop: two chunks in flight in a loop
unrolled by two, each half's next loads into the registers it has just read, so no register moves; sm_90 SASS of
the 4-token KW 8 form: 216 instructions a chunk against AHEAD 2's 221 with its 18 IMAD.MOVs, and each chunk's
loads issued a whole chunk of MMAs before they are read against AHEAD 2's last 5/8) against every shipped one-task
choice that asks for chunks ahead (AHEAD 2 or 3), in turns with cuBLAS (bench_kernels.shipped_in_turns: graph
replays, L2 flushed, each config checked against the reference). argv[1]: the token counts (default "4,8,16").
Prediction: 4 tokens on 4096x4096 8.6 -> ~7.5-8 us if the move-bound wait was the gap between chunks; no change
where the chunk's lookups, not its loads, bound the loop. Writes $OUT/ahead4.json."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import torch  # noqa: E402

from benchmarks.bench_kernels import shipped_in_turns  # noqa: E402
from kernels import autotune  # noqa: E402
from kernels.triton_decode import MODE_MMA  # noqa: E402


def main() -> None:
    tokens = tuple(int(t) for t in (sys.argv[1] if len(sys.argv) > 1 else "4,8,16").split(","))
    shipped = json.loads((autotune.SHIPPED_DIR / autotune.cache_path(torch.device("cuda")).name).read_text())

    def variants(choice: dict, key: str) -> dict:
        if choice.get("MODE") != MODE_MMA or choice.get("AHEAD", 0) not in (2, 3):
            return {}
        out = {"shipped": choice, "ahead4": choice | {"AHEAD": 4}}
        if choice.get("EARLY"):
            out["ahead4_late"] = {k: v for k, v in choice.items() if k != "EARLY"} | {"AHEAD": 4}
        return out

    shipped_in_turns(shipped, variants, "ahead4.json", tokens=tokens, gprs=(1, 4))


if __name__ == "__main__":
    main()
