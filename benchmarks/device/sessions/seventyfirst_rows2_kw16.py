"""Written in the seventy-first session for the next device call (not run yet): at 16 tokens of one task the KW 8
kernel's L1 is 79 % busy with x's loads at twice their ideal sectors (NOTES.md, "Where the 16-token KW 8 kernel's
time goes"). KW forms on two 16-row blocks a warp (ROWS 2: one x load serves both blocks' MMAs, half the x traffic
a weight) against the shipped choice, in turns with cuBLAS (bench_kernels.shipped_in_turns: graph replays, L2
flushed, each config checked against the reference), at 8 and 16 tokens, gpr 1 and 4, on the layers where their
chunks tile K. Prediction: 16 tokens on 4096x4096 from 11.6 to 10.5-11.0 us if x's sectors are the cost; no gain
at 8 tokens. Writes $OUT/rows2_kw.json."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import torch  # noqa: E402

from benchmarks.bench_kernels import shipped_in_turns  # noqa: E402
from kernels import autotune  # noqa: E402
from kernels.triton_decode import split_k_fragment_configs  # noqa: E402

# (warps, row blocks a warp, words a lane, split-K waves, AHEAD, EARLY, maxnreg, KW), as MMA_CANDIDATES
FORMS = {"kw8_rows2_w2": (8, 2, 4, 2, 2, 1, 0, 8), "kw8_rows2_w1": (8, 2, 4, 1, 2, 1, 0, 8),
         "kw4_rows2_w2": (4, 2, 4, 2, 2, 1, 0, 4), "kw4_rows2_w1": (4, 2, 4, 1, 2, 1, 0, 4)}  # fmt: skip


def main() -> None:
    device = torch.device("cuda")
    shipped = json.loads((autotune.SHIPPED_DIR / autotune.cache_path(device).name).read_text())
    sms = autotune.num_sms(device)

    def variants(choice: dict, key: str) -> dict:
        _, n, k, _, gpr = (int(v) for v in key.split("|")[1].split(",")[:5])
        out = {"shipped": choice}
        for label, form in FORMS.items():
            configs = split_k_fragment_configs([form], n, k, sms, k // gpr)
            if configs:
                out[label] = configs[0]
        return out

    shipped_in_turns(shipped, variants, "rows2_kw.json", tokens=(8, 16), gprs=(1, 4))


if __name__ == "__main__":
    main()
