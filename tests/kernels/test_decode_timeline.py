"""benchmarks/decode_timeline.py: its stamps read back as a timeline, and its stamped kernel's sm_90 code."""

import torch

from tests.conftest import load_benchmark

from .compiled_layouts import sm90_results


def _stamps(programs: list[tuple[int, int, int, list[int]]], nblocks: int, samples: int) -> torch.Tensor:
    """The stamp rows a launch writes: (start clock, start globaltimer, SM, [each block's, the end's clock]) a
    program, each mark in its first sample (the rest 0, as unsampled threads leave them), and the zero row."""
    rows = []
    for clock0, timer0, sm, marks in programs:
        row = [clock0, timer0, sm]
        for mark in marks + [0] * (nblocks + 2):  # the PARTS marks (words, tables, later groups' tables) left out
            row += [mark] + [0] * (samples - 1)
        rows.append(row)
    rows.append([0] * len(rows[0]))
    return torch.tensor(rows, dtype=torch.int64).to(torch.int32)


def test_stamps_read_as_ns_from_the_first_start_with_each_sm_on_its_own_clock():
    timeline = load_benchmark("decode_timeline")
    # SM 5: two programs on one clock (1 GHz here), started 0 and 100 cycles in; SM 9 starts 40 ns after SM 5
    # by the globaltimer, its clock unrelated and about to wrap past 2**32
    wrap = (1 << 32) - 50
    programs = [
        (1000, 7000, 5, [2000, 3000, 3500]),
        (1100, 7100, 5, [2100, 3200, 3700]),
        (wrap, 7040, 9, [wrap + 900, (wrap + 2000) % (1 << 32), (wrap + 2300) % (1 << 32)]),
    ]
    ph = timeline.phases(_stamps(programs, nblocks=2, samples=3), nblocks=2, samples=3, clock_ghz=1.0)
    by_sm = {sm: [] for sm in ph["sm"]}
    for i, sm in enumerate(ph["sm"]):
        by_sm[sm].append((ph["start"][i], ph["blocks"][i], ph["end"][i]))
    assert sorted(by_sm[5]) == [(0.0, [1000.0, 2000.0], 2500.0), (100.0, [1100.0, 2200.0], 2700.0)]
    assert by_sm[9] == [(40.0, [940.0, 2040.0], 2340.0)]
    s = timeline.summary(ph)
    assert s["programs"] == 3 and s["start_ns"]["max"] == 100.0 and s["end_ns"]["max"] == 2700.0
    assert s["first_block_after_start_ns"] == 1000.0 and s["block_done_ns"] == [1000.0, 2040.0]


_SASS = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import sm90_compile
from decode_timeline import _stamped_prmt_kernel
from kernels.triton_decode_prmt import _decode_prmt_kernel

shipped = ["N", "K", "KW", "GS", "stride_cw", "stride_ls", "stride_ln", "K_PER_SPLIT", "SPLIT_K"]
const = dict(BITS=4, BLOCK_N=8, BLOCK_K=1024, PDL=True)
_, _, _, plain = sm90_compile(_decode_prmt_kernel, shipped, shipped[:-1], const | dict(
    ASM=True, USE_SPLIT=False, LUT_BF16=False, PREFETCH=1, HALF2=True, X_VEC=True), 4, 1)
ints = shipped[:-2]
_, _, _, stamped = sm90_compile(_stamped_prmt_kernel, ints, ints, const | dict(NBLOCKS=4, STAMP_EVERY=16), 4, 1)
code = [t for _, t in re.findall(r"/\*([0-9a-f]{4})\*/\s+([^;]*);", stamped)]
clocks = [i for i, t in enumerate(code) if "SR_CLOCKLO" in t]
last_fadd = [max((j for j in range(i) if re.match(r"FADD ", code[j])), default=-1) for i in clocks]
print(json.dumps({"bars": [plain.count("BAR.SYNC"), stamped.count("BAR.SYNC")], "clocks": clocks,
                  "last_fadd": last_fadd}))
"""


def test_the_stamps_add_no_barrier_and_each_block_clock_follows_the_blocks_sums():
    """The instrument must not change what it measures: no layout conversion (and its barriers) for the stamps'
    stores, and in issue order every block's clock read after that block's last accumulator add."""
    out = sm90_results(_SASS, [])
    plain_bars, stamped_bars = out["bars"]
    assert stamped_bars == plain_bars
    block_clocks = [(c, f) for c, f in zip(out["clocks"], out["last_fadd"], strict=True) if f >= 0]
    assert block_clocks and all(f < c for c, f in block_clocks)
