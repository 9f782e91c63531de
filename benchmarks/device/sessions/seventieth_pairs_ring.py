"""Seventieth session: the pair-table kernel launched directly (not the op's choice) with the H100's shipped 4-token
choice on 4096x4096 gpr 1, at argv[1] tokens, with argv[2] as a JSON of config changes (e.g. '{"XSTAGE": 0}'):
a warm-up call, then the one Nsight profiles (seventieth_pairs_ring.sh), each checked against the torch reference.
Question: what the x ring's copies (LDGSTS.E.128: 10 wavefronts each at 4 tokens, 4 ideal) pay for: the rows past M
that only zero-fill (then 8 tokens cost the same per copy and 4 would cost less without them) or each copy's
gather of 8 token rows at 64-byte strides."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from profile_shipped import BITS, make_case  # noqa: E402

from kernels.gluon_decode_pairs import launch_decode_pairs  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402

SHIPPED = {"PREFETCH": 2, "RB": 1, "ROWS": 1, "SPLIT_K": 1, "STAGES": 3, "TABLES": 1, "WK": 4, "WPL": 4, "XRING": 0,
           "XSTAGE": 1}  # fmt: skip


def main() -> None:
    m = int(sys.argv[1])
    config = SHIPPED | (json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    x, codes, pool, slots = make_case(m, 4096, 4096, 1, 1, torch.device("cuda"))
    y = torch.empty(m, 4096, dtype=x.dtype, device=x.device)
    for _ in range(2):
        launch_decode_pairs(x, codes, pool, slots, BITS, y, config)
        torch.cuda.synchronize()
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    print(f"{m} tokens {config}: max err {(y.float() - ref.float()).abs().max().item():.1e}", flush=True)


if __name__ == "__main__":
    main()
