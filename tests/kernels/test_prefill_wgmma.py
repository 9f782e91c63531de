"""The wgmma prefill kernel (kernels/triton_prefill_wgmma.py): each lane looks up exactly its MMA fragments.

Gluon has no CPU interpreter, so on the CPU: the gather-and-lookup asm runs through the emulator of its instructions
(kernels/prmt_lut.py) against a plain table lookup; the columns a lane's looked-up entries land on are checked
against wgmma's A-fragment map; every candidate compiles for sm_90 without spills and with a K loop free of
shared-memory stores and shuffles (the weight tile never leaves the registers). On an sm_90 GPU the kernel is
compared to the torch reference over segment tiles, output poisoned with NaN first.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import triton

from kernels import SlotSegments
from kernels.prmt_lut import byte_tables, emulate, gather_dequant_program
from kernels.reference import lut_linear_reference
from kernels.triton_common import arrival_counters
from kernels.triton_prefill_prmt import SegmentTiles
from kernels.triton_prefill_wgmma import (
    HAVE_GLUON,
    codes_descriptor,
    codes_tma,
    default_prefill_wgmma_config,
    launch_prefill_wgmma,
    lut_stage,
    prefill_wgmma_candidates,
    prefill_wgmma_codes_loaded,
    prefill_wgmma_gluon_wait,
    prefill_wgmma_grid_only,
    prefill_wgmma_lut_loaded,
    tma_options,
    wgmma_prefill_ok,
    with_codes_tma,
)
from tests.kernels.compiled_layouts import sm90_results
from tests.kernels.test_triton_forward import make_case, rel_err

SM90 = torch.cuda.is_available() and torch.cuda.get_device_capability() == (9, 0)


def test_the_gather_program_looks_up_byte_t_of_each_of_four_words():
    """Entry 2i + p is the LUT entry of nibble p of byte t of word i, bit for bit, for every lane t."""
    rng = np.random.default_rng(11)
    program = gather_dequant_program()
    for trial in range(48):
        entries = rng.integers(0, 2**16, 16, dtype=np.uint16)  # any 16-bit pattern: bytes are moved
        words = [int(w) for w in rng.integers(0, 2**32, 4, dtype=np.uint64)]
        t = trial % 4
        lo, hi = byte_tables(entries)
        operands = {f"${8 + i}": w for i, w in enumerate(words)} | {"$12": t | (t + 4) << 4}
        operands |= {f"${13 + i}": v for i, v in enumerate(lo + hi)}
        regs = emulate(program, operands)
        codes = [(words[i] >> (8 * t + 4 * p)) & 0xF for i in range(4) for p in range(2)]
        assert [regs[f"${j}"] for j in range(8)] == [int(entries[c]) for c in codes]


def test_a_lanes_entries_land_on_its_wgmma_a_fragment_columns():
    """Lane t of a quad gathers byte t of the 4 words of each 32 columns (words 4v .. 4v + 3). Entry 2i + p of that
    lookup is the kernel's column 32v + 16(i // 2) + 8(i % 2) + 2t + p (_fragments); that must be the column the
    code came from, and the lane's columns must be wgmma's A fragment (2t, 2t+1, 2t+8, 2t+9 of every 16)."""
    block_k = 128
    for t in range(4):
        placed = []
        for v in range(block_k // 32):
            for i in range(4):
                word = 4 * v + i
                for p in range(2):
                    source = 8 * word + 2 * t + p  # nibble 2t + p of the word: byte t, nibble p
                    column = 32 * v + 16 * (i // 2) + 8 * (i % 2) + 2 * t + p
                    assert column == source
                    placed.append(column)
        fragment = [16 * j + c for j in range(block_k // 16) for c in (2 * t, 2 * t + 1, 2 * t + 8, 2 * t + 9)]
        assert sorted(placed) == fragment


_COMPILE_SCRIPT = r"""
import json, os, re, sys
os.environ.pop("TRITON_INTERPRET", None)
sys.path.insert(0, "benchmarks")
from bench_kernels import _inner_loop_mix, compile_prefill_wgmma_sm90
out = []
for config, bits, x in json.loads(sys.argv[1]):
    regs, stack, smem, sass = compile_prefill_wgmma_sm90(config, bits, x)
    n, mix = _inner_loop_mix(sass, anchor=("HGMMA",), top=None, executed_only=True)
    # nothing may touch shared memory or shuffle in the K loop
    loop_ops = [op for op in mix if op.startswith(("STS", "LDS", "SHFL", "STL", "LDL"))]
    # PINGPONG: CTA barriers between a warpgroup's turn (named bar.sync on a register id) and its arrive for the
    # other warpgroup, in code order; the other warpgroup cannot reach such a barrier before its own turn
    in_turn, turn_ctas = False, 0
    for line in sass.splitlines():
        if re.search(r"BAR\.SYNC\S* R\d+, 0x100", line):
            in_turn = True
        elif "BAR.ARV" in line:
            in_turn = False
        elif in_turn and re.search(r"BAR\.SYNC\S* 0x0\b", line):
            turn_ctas += 1
    # registers an HGMMA reads as its A fragments, written again before a WARPGROUP.DEPBAR says it has finished
    # (the wgmma reads them asynchronously): in code order, 4 registers from each HGMMA's second operand
    in_flight, a_overwrites = set(), 0
    for line in sass.splitlines():
        m = re.search(r"\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Za-z0-9_.]*)\s+(R\d+)", line)
        if "WARPGROUP.DEPBAR" in line:
            in_flight.clear()
        elif m and m.group(1).startswith("HGMMA"):
            a_reg = re.search(r"HGMMA\S*\s+R\d+,\s+R(\d+)", line)
            if a_reg:
                in_flight |= {int(a_reg.group(1)) + i for i in range(4)}
        elif m and in_flight and not m.group(1).startswith(("ST", "BAR", "SYNCS", "WARPGROUP", "CCTL", "UTMA")):
            width = 4 if ".128" in m.group(1) else 2 if ".64" in m.group(1) else 1
            first = int(m.group(2)[1:])
            a_overwrites += any(first + i in in_flight for i in range(width))
    out.append([int(regs), int(stack), int(smem), loop_ops, sass.count("HGMMA"), mix.get("BAR", 0), turn_ctas,
                a_overwrites])
print(json.dumps(out))
"""


def test_every_candidate_compiles_for_sm90_without_spills_and_keeps_the_weight_tile_out_of_shared_loads():
    """Compiled for sm_90 here (ptxas and cuobjdump ship with Triton), 3- and 4-bit, fp16 and bf16: no register
    spills, shared memory within an SM's 227 KB, and a K loop with no shared-memory loads or shuffles (the x tiles
    arrive by cp.async or TMA and feed the wgmma from shared memory; the weight fragments go to the wgmma from
    registers)."""
    configs = prefill_wgmma_candidates(128)
    assert default_prefill_wgmma_config() in configs
    pingpong = [c for c in configs if c.get("PINGPONG")]
    cases = [[c, 4, "fp16"] for c in configs] + [[configs[0], 3, "fp16"], [configs[0], 4, "bf16"]]
    cases += [[c, 3, "bf16"] for c in pingpong]
    splits = [{"WGMMA": 1, "X_TMA": 1, "BLOCK_K": 64, "STORE_ROWS": 0, **config} for *_, config in SPLIT_CASES]
    cases += [[c, 4, "fp16"] for c in splits] + [[splits[1], 3, "bf16"]]
    gluon_wait = prefill_wgmma_gluon_wait(128)  # PINGPONG with Gluon's MMA wait, not the inline PTX: the grid's
    cases += [[c, 4, "fp16"] for c in gluon_wait] + [[gluon_wait[0], 3, "bf16"]]
    # the PINGPONG tiles compile as at gpr 4 (LUT_STAGE by default: the tile's LUT rows in shared memory); with the
    # LUT loaded from the pool instead (their form at gpr 1), the grid's
    loaded = prefill_wgmma_lut_loaded(128)
    cases += [[c, 4, "fp16"] for c in loaded] + [[loaded[0], 3, "bf16"]]
    # the PINGPONG tiles take their code words by TMA into the ring by default (read from shared memory); with the
    # words loaded into registers a block ahead instead, the grid's
    codes_loaded = prefill_wgmma_codes_loaded(128)
    cases += [[c, 4, "fp16"] for c in codes_loaded] + [[codes_loaded[0], 3, "bf16"]]
    results = sm90_results(_COMPILE_SCRIPT, cases)
    for case, (regs, stack, smem, loop_ops, hgmma, bars, turn_ctas, a_overwrites) in zip(cases, results, strict=True):
        # nothing writes a register an MMA in flight reads as its A fragment (the twenty-eighth session's wrong
        # results on the H200 were such writes), with the wait as Gluon's op or as inline PTX (WAIT_ASM)
        assert a_overwrites == 0, (case, a_overwrites)
        # a CTA barrier inside a warpgroup's turn deadlocks (it hung the H200 in the K loop's tail, twenty-ninth
        # session): none anywhere, for every form and type
        assert turn_ctas == 0, (case, turn_ctas)
        assert stack == 0, (case, regs, stack)
        assert smem <= 227 * 1024, (case, smem)
        # (LUT_STAGE reads a boundary's tables from the tile's LUT rows in shared memory: loads only)
        # (and CODES_TMA its code words)
        assert loop_ops == (["LDS"] if lut_stage(case[0], 4) or codes_tma(case[0]) else []), (case, loop_ops)
        # one wgmma per 16 columns of a K block and 64 rows of a warpgroup; the TMA form's K loop is unrolled by
        # its ring (stages blocks) with a tail of up to stages - 1 blocks, and has one CTA barrier a block
        config = case[0]
        per_block = config["BLOCK_K"] // 16 * config["BLOCK_N"] // (16 * config["num_warps"])
        if config.get("X_TMA"):
            stages = config["num_stages"]
            assert hgmma == per_block * (2 * stages - 1), (case, hgmma)
            # Triton 3.6 (the GPU machine's) needs only the kernel's own CTA barrier; 3.9's lowering adds two more
            # (before mbarrier.expect's arrive, after warpgroup_mma_wait). PINGPONG adds a named-barrier wait and
            # arrive a block. WAIT_ASM (PINGPONG's default): 3.9's barrier after the wait is gone (one fewer a block).
            own = 1 + 2 * config.get("PINGPONG", 0)
            extra = 2 - tma_options(config)["WAIT_ASM"] + codes_tma(config)  # (its expect's)
            assert bars == own * stages if triton.__version__.startswith("3.6") else bars <= (own + extra) * stages, (
                case,
                bars,
            )
        else:
            assert hgmma == per_block, (case, hgmma)


def test_every_shipped_wgmma_choice_is_a_candidate_the_compile_test_covers():
    tuned = Path(__file__).resolve().parents[2] / "kernels" / "tuned" / "NVIDIA_H200.v8.json"
    shipped = json.loads(tuned.read_text())
    chosen = [c for k, c in shipped.items() if k.startswith("prefill_tiles|") and c.get("WGMMA")]
    assert chosen, "the H200 choices include the wgmma kernel"
    candidates = prefill_wgmma_candidates(128)
    assert all(c in candidates for c in chosen)


def test_the_kernel_takes_only_what_it_can_compute():
    x = torch.zeros(4, 256, dtype=torch.float16)
    codes = torch.zeros(8, 128, dtype=torch.uint8)
    pool = torch.zeros(2, 8, 1, 16, dtype=torch.float16)
    assert not wgmma_prefill_ok(x, codes, pool, 4, 256)  # not on a GPU


@pytest.mark.skipif(not HAVE_GLUON, reason="Gluon ships with Triton >= 3.5")
def test_codes_tma_copies_a_k_block_of_words_and_refuses_codes_tma_cannot_read():
    codes = torch.zeros(256, 2048, dtype=torch.uint8)  # [N, K / 2] at K 4096
    desc = codes_descriptor(codes, 128, 64)
    assert list(desc.block_shape) == [128, 8]  # BN rows of a K block's 64 / 8 words
    assert list(desc.shape) == [256, 512] and desc.base.dtype == torch.int32
    with pytest.raises(ValueError, match="CODES_TMA"):
        codes_descriptor(codes[:, ::2], 128, 64)  # not contiguous
    flat = torch.zeros(256 * 2048 + 16, dtype=torch.uint8)
    with pytest.raises(ValueError, match="CODES_TMA"):
        codes_descriptor(flat[4 : 4 + 256 * 2048].view(256, 2048), 128, 64)  # its start not 16-byte aligned
    with pytest.raises(ValueError, match="CODES_TMA"):
        codes_descriptor(flat[: 256 * 2040].view(256, 2040), 128, 64)  # rows of 2,040 bytes


def test_the_pingpong_tiles_take_the_code_words_by_tma_where_tma_can_copy_them():
    tile = default_prefill_wgmma_config()
    assert tile["PINGPONG"] and codes_tma(tile) and tma_options(tile)["CODES_TMA"]
    codes = torch.zeros(256, 2048, dtype=torch.uint8)
    assert with_codes_tma(tile, codes)["CODES_TMA"] == 1
    # codes TMA cannot copy: the words loaded instead, unless the config names CODES_TMA (the descriptor refuses)
    assert with_codes_tma(tile, codes[:, ::2])["CODES_TMA"] == 0
    assert with_codes_tma({**tile, "CODES_TMA": 1}, codes[:, ::2])["CODES_TMA"] == 1
    # off where the config says so, in the tiles without turns, and in the cp.async form (no TMA)
    assert with_codes_tma({**tile, "CODES_TMA": 0}, codes)["CODES_TMA"] == 0
    assert with_codes_tma({**tile, "PINGPONG": 0}, codes)["CODES_TMA"] == 0
    cp_async = next(c for c in prefill_wgmma_candidates(128) if not c.get("X_TMA"))
    assert with_codes_tma({**cp_async, "CODES_TMA": 1}, codes)["CODES_TMA"] == 0


CUDA_CASES = [  # (N, K, gpr, bits, dtype, segment lengths, min_len, config)
    (4096, 4096, 1, 4, torch.float16, [256] * 4, 1, None),
    (4096, 4096, 4, 4, torch.float16, [70, 300, 130], 64, None),
    (200, 512, 2, 3, torch.bfloat16, [5, 129, 64, 1], 1, None),
    (1000, 1024, 8, 4, torch.bfloat16, [300, 17, 250], 20, None),
    # K of 2 and 3 blocks: the TMA form's unrolled loop is all tail (no whole round of its 3-4 stage ring)
    (256, 128, 1, 4, torch.float16, [100, 40], 1, None),
    (384, 192, 1, 4, torch.float16, [33, 200], 1, None),
    # groups of one K block (gpr 8 at K 512): every block a boundary
    (512, 512, 8, 4, torch.float16, [300, 100], 1, None),
]


SPLIT_CASES = [  # (N, K, gpr, bits, dtype, tokens, config): few tokens of one slot (decode), K split in ranges
    (4096, 4096, 4, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 64, "num_warps": 4, "num_stages": 4,
                                           "SPLIT_K": 8, "PINGPONG": 0}),  # 8 blocks a split: groups of 16 split
    (1000, 1024, 8, 3, torch.bfloat16, 5, {"BLOCK_M": 8, "BLOCK_N": 128, "num_warps": 8, "num_stages": 3,
                                           "SPLIT_K": 3, "PINGPONG": 1}),  # 6 + 6 + 4 blocks; ragged N
    (384, 192, 1, 4, torch.float16, 3, {"BLOCK_M": 8, "BLOCK_N": 64, "num_warps": 4, "num_stages": 4,
                                        "SPLIT_K": 2, "PINGPONG": 0}),  # 2 + 1 blocks: all tail
    (4096, 4096, 4, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 128, "num_warps": 8, "num_stages": 4,
                                           "SPLIT_K": 3, "PINGPONG": 1}),  # ranges cut LUT groups
    (4096, 4096, 4, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 128, "num_warps": 8, "num_stages": 4,
                                           "SPLIT_K": 3, "PINGPONG": 1, "WAIT_ASM": 0}),  # Gluon's MMA wait
    (4096, 4096, 4, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 128, "num_warps": 8, "num_stages": 3,
                                           "SPLIT_K": 3, "PINGPONG": 1, "LUT_STAGE": 0}),  # the LUT loaded
    (4096, 4096, 4, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 128, "num_warps": 8, "num_stages": 4,
                                           "SPLIT_K": 3, "PINGPONG": 1, "CODES_TMA": 0}),  # the words loaded
    (1000, 1024, 8, 3, torch.bfloat16, 5, {"BLOCK_M": 8, "BLOCK_N": 128, "num_warps": 8, "num_stages": 3,
                                           "SPLIT_K": 3, "PINGPONG": 1, "CODES_TMA": 0}),  # the words loaded
    (4096, 4096, 1, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 64, "num_warps": 4, "num_stages": 8,
                                           "SPLIT_K": 3, "PINGPONG": 0, "CODES_TMA": 1}),  # ring of 8: tails 6, 4
    (4096, 4096, 4, 4, torch.float16, 16, {"BLOCK_M": 16, "BLOCK_N": 128, "num_warps": 8, "num_stages": 4,
                                           "SPLIT_K": 5, "PINGPONG": 1}),  # ranges start mid-group
    (1000, 1024, 8, 3, torch.bfloat16, 5, {"BLOCK_M": 8, "BLOCK_N": 128, "num_warps": 8, "num_stages": 4,
                                           "SPLIT_K": 3, "PINGPONG": 1, "LUT_STAGE": 1}),  # staged: ragged N, 3 bits
]


@pytest.mark.skipif(not SM90, reason="the wgmma kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", range(len(SPLIT_CASES)))
def test_split_k_sums_the_k_ranges_into_y_and_leaves_the_counters_at_zero(case):
    n, k, gpr, bits, dtype, m, split = SPLIT_CASES[case]
    x, codes, pool, _ = make_case(m, n, k, bits, gpr, 5, "one", dtype, seed=10 + case)
    segments = SlotSegments.from_counts([3], [m], "cuda")
    slot_of_token = segments.slot_of_token()
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    config = {"WGMMA": 1, "X_TMA": 1, "BLOCK_K": 64, "STORE_ROWS": 0, **split}
    for _ in range(2):  # the second launch finds the arrival counters reset by the first
        y = torch.full((m, n), float("nan"), dtype=dtype, device="cuda")
        launch_prefill_wgmma(x, codes, pool, slot_of_token, bits, y, config, SegmentTiles(segments.starts, (m,), 1))
        assert rel_err(y, ref) < (3e-3 if dtype == torch.float16 else 1.5e-2), config
    assert not arrival_counters(x.device, 1).any()


@pytest.mark.skipif(not SM90, reason="the wgmma kernel needs an sm_90 GPU")
@pytest.mark.parametrize("case", range(len(CUDA_CASES)))
def test_the_kernel_matches_the_reference_on_the_segments_it_tiles(case):
    n, k, gpr, bits, dtype, counts, min_len, _ = CUDA_CASES[case]
    slots = [(3 * i + 1) % 5 for i in range(len(counts))]
    x, codes, pool, _ = make_case(sum(counts), n, k, bits, gpr, 5, "one", dtype, seed=case)
    segments = SlotSegments.from_counts(slots, counts, "cuda")
    slot_of_token = segments.slot_of_token()
    ref = lut_linear_reference(x, codes, pool, slot_of_token, bits)
    tiled = torch.cat([torch.full((c,), c >= min_len) for c in counts]).cuda()
    # the candidates (PINGPONG's with the inline-PTX wait, the code words by TMA and, at gpr > 1, the LUT staged),
    # and the default tile's with Gluon's wait, the LUT loaded and the words loaded, 3 and 4 stages (the 3-stage
    # form's tails differ)
    grid_only = [c for c in prefill_wgmma_grid_only(k // gpr) if c["BLOCK_M"] == 256 and c["STORE_ROWS"]]
    for config in prefill_wgmma_candidates(k // gpr) + grid_only:
        y = torch.full((sum(counts), n), float("nan"), dtype=dtype, device="cuda")
        launch_prefill_wgmma(x, codes, pool, slot_of_token, bits, y, config, SegmentTiles(segments.starts,
                             tuple(counts), min_len))  # fmt: skip
        assert rel_err(y[tiled], ref[tiled]) < (3e-3 if dtype == torch.float16 else 1.5e-2), config
        assert torch.isnan(y[~tiled]).all(), config
