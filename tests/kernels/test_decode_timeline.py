"""benchmarks/decode_timeline.py: its stamps read back as a timeline, and its stamped kernel's sm_90 code."""

import pytest
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


_MMA_SASS = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import compile_decode_mma_sm90, sm90_compile
from decode_timeline_mma import _stamped_mma_kernel

ints = ["M", "N", "K", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT", "SPLIT_K"]
out = []
for ahead in (0, 2):  # the word-by-word loop, and chunks asked for a chunk ahead
    const = dict(BITS=4, WARPS=2, WPL=4, TILES=1, ROWS=1, USE_SPLIT=True, BF16=False, X16=True, PDL=True, AHEAD=ahead)
    _, _, _, plain = compile_decode_mma_sm90(const | dict(ASM=True, PRELOAD=False), 2)
    _, _, _, stamped = sm90_compile(_stamped_mma_kernel, ints,
                                    [i for i in ints if i not in ("M", "stride_cw", "SPLIT_K")],
                                    const | dict(NCHUNKS=4, STAMP_EVERY=8), 2, 1)
    code = [t for _, t in re.findall(r"/\*([0-9a-f]{4})\*/\s+([^;]*);", stamped)]
    clocks = [i for i, t in enumerate(code) if "SR_CLOCKLO" in t]
    last_mma = [max((j for j in range(i) if "HMMA" in code[j]), default=-1) for i in clocks]
    out.append({"bars": [plain.count("BAR.SYNC"), stamped.count("BAR.SYNC")], "clocks": clocks,
                "last_mma": last_mma})
print(json.dumps(out))
"""


def test_the_fragment_copy_adds_one_barrier_and_each_chunk_clock_follows_its_mmas():
    """benchmarks/decode_timeline_mma.py: one barrier more than the fragment kernel (the one that puts the end stamp
    after every store), and every chunk's clock read after that chunk's last MMA in issue order, with the chunks'
    loads where they are looked up and asked for a chunk ahead (AHEAD 2)."""
    for out in sm90_results(_MMA_SASS, []):  # AHEAD 0, then 2
        plain_bars, stamped_bars = out["bars"]
        assert stamped_bars == plain_bars + 1
        chunk_clocks = [(c, f) for c, f in zip(out["clocks"], out["last_mma"], strict=True) if f >= 0]
        assert chunk_clocks and all(f < c for c, f in chunk_clocks)


@pytest.mark.gpu
@pytest.mark.parametrize("m,config", [
    (4, {"num_warps": 2, "ROWS": 1, "WPL": 4, "SPLIT_K": 8}),
    (16, {"num_warps": 2, "ROWS": 2, "WPL": 2, "SPLIT_K": 4}),
    (4, {"num_warps": 2, "ROWS": 1, "WPL": 4, "SPLIT_K": 2, "AHEAD": 3}),  # chunks asked for two ahead
])  # fmt: skip
def test_the_stamped_copies_compute_what_the_op_does_on_cuda(m, config):
    from kernels.reference import lut_linear_reference
    from tests.kernels.test_triton_forward import make_case

    timeline = load_benchmark("decode_timeline")
    timeline_mma = load_benchmark("decode_timeline_mma")
    x, codes, pool, slots = make_case(m, 300, 2048, 4, 4, 3, "one", torch.float16, seed=m)
    ref = lut_linear_reference(x, codes, pool, slots, 4)
    y = torch.full((m, 300), float("nan"), dtype=torch.float16, device="cuda")
    programs, nchunks = timeline_mma.launch_stamped_mma(x, codes, pool, slots, y, None, config)
    samples = 32 * config["num_warps"] // timeline_mma.STAMP_EVERY
    stamps = torch.zeros(programs + 1, 3 + (2 * nchunks + 3) * samples, dtype=torch.int32, device="cuda")
    timeline_mma.launch_stamped_mma(x, codes, pool, slots, y, stamps, config)
    assert ((y.float() - ref.float()).abs().max() / ref.float().abs().max()).item() < 1e-2
    y1 = torch.full((1, 300), float("nan"), dtype=torch.float16, device="cuda")
    cfg = {"BLOCK_N": 8, "BLOCK_K": 512, "num_warps": 4, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1, "PARTS": 1}
    samples1 = 8 * (512 // 8) // timeline.STAMP_EVERY  # BLOCK_N x code words a block, one in STAMP_EVERY
    stamps1 = torch.zeros(-(-300 // 8) + 1, 3 + (2 * 4 + 3) * samples1, dtype=torch.int32, device="cuda")
    timeline.launch_stamped(x[:1], codes, pool, slots[:1], y1, stamps1, cfg)
    ref1 = lut_linear_reference(x[:1], codes, pool, slots[:1], 4)
    assert ((y1.float() - ref1.float()).abs().max() / ref1.float().abs().max()).item() < 1e-2
