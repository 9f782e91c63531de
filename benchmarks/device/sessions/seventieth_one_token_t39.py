"""Seventieth session: the one-token kernel (the H100's shipped MODE 3 choice on 4096x4096 gpr 1) and the fragment
kernel's 4-token choice, each timed as the kernel table times (graph replays, L2 flushed) with and without PDL,
under whichever Triton runs this (the device's 3.6 in the first call, 3.9 in the second; with 3.9 also the pair
kernel's 1- and 4-token choices). Question: why the one-token op took 8.0 us under 3.9 (the pair kernel, chosen
over MODE 3) against 7.1 under 3.6, when MODE 3's sm_90 code is the same 984 instructions under both. Prints a
line per kernel; each output checked against the torch reference."""

import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_shipped import BITS, make_case  # noqa: E402
from seventieth_pairs_ring import SHIPPED  # noqa: E402

from kernels.gluon_decode_pairs import HAVE_PAIRS, launch_decode_pairs  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402
from kernels.triton_common import pdl_scope  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402

ONE = {"BLOCK_K": 1024, "BLOCK_N": 4, "HALF2": 1, "MODE": 3, "PREFETCH": 1, "SPLIT_K": 1, "X_VEC": 1,
       "num_stages": 1, "num_warps": 2}  # fmt: skip
FRAG = {"AHEAD": 2, "EARLY": 1, "KW": 8, "MODE": 5, "ROWS": 1, "SPLIT_K": 1, "W16": 1, "WPL": 4, "num_warps": 8}
PAIRS4 = SHIPPED  # the pair kernel's 4-token choice (seventieth_pairs_ring.py)
PAIRS1 = PAIRS4 | {"STAGES": 4}  # its 1-token choice differs only there


def main() -> None:
    cases = [("one-token MODE 3", 1, launch_decode, ONE), ("fragment KW 8", 4, launch_decode, FRAG)]
    if HAVE_PAIRS:
        cases += [("pairs", 1, launch_decode_pairs, PAIRS1), ("pairs", 4, launch_decode_pairs, PAIRS4)]
    for name, m, launch, config in cases:
        x, codes, pool, slots = make_case(m, 4096, 4096, 1, 1, torch.device("cuda"))
        y = torch.empty(m, 4096, dtype=x.dtype, device=x.device)
        times = {}
        for pdl in (False, True):
            with pdl_scope(pdl):
                times[pdl] = 1000 * graph_time_ms(lambda: launch(x, codes, pool, slots, BITS, y, config))  # noqa: B023
        err = (y.float() - lut_linear_reference(x, codes, pool, slots, BITS).float()).abs().max().item()
        print(f"triton {triton.__version__} {name} {m} token(s): {times[False]:.2f} us, with PDL {times[True]:.2f} us,"
              f" max err {err:.1e}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
