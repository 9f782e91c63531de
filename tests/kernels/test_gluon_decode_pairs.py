"""The pair-table decode kernel (kernels/gluon_decode_pairs.py): each byte of codes one shared load of two weights.

On the CPU: the kernel's data flow in torch (pairs_model: its table, prmt's addresses into it, the lanes' words and
x quads, mma.sync's fragment maps, the outputs' positions, the split ranges) gives x @ W.T; the table holds what
its docstring says; the kernel compiled for sm_90 (Triton >= 3.9) runs its chunk loop as two instructions per
code byte, no barrier in it. On CUDA the kernel itself runs against the reference."""

from __future__ import annotations

import pytest
import torch

from kernels import triton_ops
from kernels.gluon_decode_pairs import (
    HAVE_PAIRS,
    LOOKUP_SELECTORS,
    default_pairs_config,
    launch_decode_pairs,
    pair_table,
    pairs_candidates,
    pairs_model,
    pairs_ok,
    split_columns,
)
from kernels.prmt_lut import prmt
from kernels.reference import lut_linear_reference

from .compiled_layouts import sm90_results
from .test_triton_forward import make_case, rel_err

CUDA = torch.cuda.is_available()


@pytest.mark.parametrize("byte", [0, 1, 2, 3])
def test_a_lookup_address_is_the_code_byte_over_the_slot_offset(byte):
    g = torch.Generator().manual_seed(byte)
    word = torch.randint(0, 2**32, (1000,), generator=g, dtype=torch.int64)
    offset = 4 * torch.randint(0, 64, (1000,), generator=g, dtype=torch.int64)
    address = prmt(offset, word, LOOKUP_SELECTORS[byte])
    assert torch.equal(address, ((word >> (8 * byte)) & 0xFF) * 256 + offset)


@pytest.mark.parametrize("copies, tables", [(1, 1), (2, 1), (4, 1), (2, 2), (4, 2)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_the_table_holds_both_weights_of_every_byte_for_each_row_copy(copies, tables, dtype):
    rows = 64 * tables // copies
    lut = torch.randn(rows, 16).to(dtype)
    table = pair_table(lut, copies)  # [256, 64 tables]
    b = torch.randint(0, 256, (500,))
    s = torch.randint(0, 64 * tables, (500,))
    pairs = table[b, s]
    lo = (pairs & 0xFFFF).to(torch.int32).to(torch.int16).view(dtype)
    hi = (pairs >> 16).to(torch.int32).to(torch.int16).view(dtype)
    assert torch.equal(lo, lut[s // copies, b & 15]) and torch.equal(hi, lut[s // copies, b >> 4])


def test_a_3_bit_table_never_needs_a_high_nibble_past_7():
    lut = torch.randn(32, 8).half()
    table = pair_table(lut, 2)
    assert (table[128:] == -1).all() and (table[:128] != -1).all()
    assert ((table[:128, 0] & 0xFFFF).reshape(8, 16)[:, 8:] == 0).all()  # low nibbles past 7: zero


def test_split_ranges_are_whole_chunks_inside_one_group():
    for k, gs, chunk, split in [(4096, 4096, 128, 3), (11008, 2752, 64, 8), (4096, 1024, 128, 2), (512, 256, 64, 5)]:
        per = split_columns(k, gs, chunk, split)
        assert per % chunk == 0 and gs % per == 0
        assert per <= max(chunk, -(-k // split) // chunk * chunk + chunk)


@pytest.mark.parametrize("n, k, gpr", [(4096, 4096, 1), (11008, 4096, 4), (4096, 11008, 4), (4096, 11008, 1)])
def test_every_candidate_tiles_its_groups_and_splits_inside_them(n, k, gpr):
    gs = k // gpr
    configs = pairs_candidates(n, k, gs, 132)
    assert configs and default_pairs_config(n, k, gs, 132) in configs
    for cfg in configs:
        chunk = 32 * cfg["WPL"]
        step = chunk * cfg["WK"]
        assert cfg["RB"] in (1, 2, 4) and gs % step == 0 and cfg["SPLIT_K"] >= 1 and cfg["RB"] * cfg["WK"] <= 16
        assert 1 <= 4 * cfg["TABLES"] // (cfg["RB"] * cfg["ROWS"]) <= 4  # copies of a row
        per = split_columns(k, gs, step, cfg["SPLIT_K"])
        assert gs % per == 0 and per % step == 0


def test_only_a_batch_of_one_known_task_takes_the_pair_table_class(monkeypatch):
    x = torch.zeros(16, 64, dtype=torch.float16)
    monkeypatch.setattr(triton_ops, "PAIRS_DECODE", False)
    assert triton_ops._decode_class("auto", x, None, 1) == "one"  # SKETCHSERVE_PAIRS_DECODE=0, or Triton < 3.9
    monkeypatch.setattr(triton_ops, "PAIRS_DECODE", True)
    assert triton_ops._decode_class("auto", x, None, 1) == "pairs"
    assert triton_ops._decode_class("auto", x, None, None) == "one"  # tokens of any slots
    assert triton_ops._decode_class("auto", x, None, 2) != "pairs"
    assert triton_ops._decode_class("gather", x, None, 1) == "one"
    assert triton_ops._decode_class("auto", torch.zeros(17, 64, dtype=torch.float16), None, 1) == "one"


MODEL_CASES = [
    # m, n, k, bits, gpr, config, x dtype
    (1, 32, 256, 4, 1, {"RB": 2, "WPL": 4}, torch.float16),
    (5, 48, 256, 4, 2, {"RB": 1, "WPL": 2, "SPLIT_K": 2}, torch.float16),
    (16, 40, 512, 4, 4, {"RB": 4, "WPL": 1, "SPLIT_K": 3}, torch.bfloat16),
    (11, 72, 384, 3, 1, {"RB": 2, "WPL": 4, "SPLIT_K": 3}, torch.float16),
    (8, 16, 128, 3, 2, {"RB": 1, "WPL": 2}, torch.bfloat16),
    (3, 40, 1024, 4, 2, {"RB": 2, "WK": 4, "WPL": 1, "SPLIT_K": 2}, torch.float16),
    (13, 24, 512, 4, 1, {"RB": 1, "WK": 2, "WPL": 2}, torch.bfloat16),
    (16, 72, 512, 4, 2, {"RB": 4, "WK": 2, "WPL": 2, "TABLES": 2, "SPLIT_K": 2}, torch.float16),
    (2, 40, 256, 3, 1, {"RB": 2, "WPL": 4, "TABLES": 2}, torch.float16),
    (9, 72, 512, 4, 2, {"RB": 1, "ROWS": 2, "WK": 2, "WPL": 2, "SPLIT_K": 2}, torch.float16),
    (16, 100, 256, 4, 1, {"RB": 2, "ROWS": 2, "WPL": 4, "TABLES": 2}, torch.bfloat16),
    # four row blocks a warp (64 rows a program on one table, or two with 2 copies), odd N, split-K
    (16, 100, 512, 4, 2, {"RB": 1, "ROWS": 4, "WK": 2, "WPL": 2, "TABLES": 2, "SPLIT_K": 2}, torch.float16),
    (7, 72, 256, 3, 1, {"RB": 1, "ROWS": 4, "WPL": 4}, torch.bfloat16),
    (16, 64, 1024, 4, 1, {"RB": 2, "WK": 2, "WPL": 4, "PREFETCH": 4, "XRING": 2}, torch.float16),
]


@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda c: f"m{c[0]}n{c[1]}k{c[2]}b{c[3]}g{c[4]}")
def test_the_kernels_data_flow_computes_x_times_w(case):
    m, n, k, bits, gpr, config, dtype = case
    x, codes, lut, slots = (t.cpu() for t in make_case(m, n, k, bits, gpr, 3, "one", dtype))
    ref = lut_linear_reference(x.float(), codes, lut.float(), slots, bits)
    y = pairs_model(x, codes, lut, slots, bits, config)
    assert rel_err(y, ref) < 1e-5


def test_the_kernel_takes_only_cuda_16_bit_aligned_calls():
    x, codes, lut, _ = (t.cpu() for t in make_case(4, 32, 256, 4, 1, 2, "one", torch.float16))
    assert not pairs_ok(x, codes, lut, 4, 1)  # on the CPU never
    if not CUDA:
        return
    x, codes, lut = x.cuda(), codes.cuda(), lut.cuda()
    assert pairs_ok(x, codes, lut, 4, 1) == HAVE_PAIRS
    assert not pairs_ok(x, codes, lut, 2, 1)  # 2-bit codes
    assert not pairs_ok(x[:, :200], codes, lut, 4, 1)  # K not whole chunks


_COMPILE_SCRIPT = r"""
import json, os, sys
os.environ.pop("TRITON_INTERPRET", None)
sys.path.insert(0, "benchmarks")
from bench_kernels import _inner_loop_mix, _inner_loop_ops, sm90_compile
from kernels.gluon_decode_pairs import _decode_pairs_kernel
ints = ["M", "N", "K", "GS", "stride_xq", "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT"]
out = []
for const in json.loads(sys.argv[1]):
    regs, stack, smem, sass = sm90_compile(_decode_pairs_kernel, ints, ["x_quads"] + ints[1:], const,
                                           const["RB"] * const["WK"], 1, extra_sig={"x_quads": "*i64"})
    n, mix = _inner_loop_mix(sass, top=None, full_opcodes=True)  # the chunk loop, around the first HMMA
    ops = _inner_loop_ops(sass, executed_only=True, full_opcodes=True)  # the loop's schedule
    out.append([n, mix, "ACQBULK" in sass, "PREEXIT" in sass, ops])
print(json.dumps(out))
"""


@pytest.mark.parametrize("tiles, wk, wpl, tables, rows, pdl, xring", [
    (1, 1, 4, 1, 1, False, 0), (2, 1, 4, 1, 1, True, 0), (2, 4, 4, 2, 1, False, 0), (2, 2, 2, 1, 1, False, 0),
    (1, 1, 1, 1, 1, False, 0), (2, 2, 4, 2, 2, True, 0), (2, 4, 4, 2, 1, False, 1), (2, 8, 2, 1, 1, False, 0),
    (2, 4, 2, 2, 4, False, 0),
])  # fmt: skip
def test_the_chunk_loop_compiles_to_a_permute_and_a_shared_load_per_code_byte(tiles, wk, wpl, tables, rows, pdl,
                                                                                xring):  # fmt: skip
    if not HAVE_PAIRS:
        pytest.skip("needs Triton >= 3.9 (Gluon's inline_asm with shared-memory operands)")
    rb = 2 if rows == 1 else 1
    const = {"NV": 16, "RB": rb, "ROWS": rows, "WK": wk, "WPL": wpl, "PREFETCH": 2, "TABLES": tables, "TILES": tiles,
             "USE_SPLIT": True, "BF16": False, "PDL": pdl, "XRING": xring}  # fmt: skip
    ((n, loop, wait, release, _),) = sm90_results(_COMPILE_SCRIPT, [const])  # the loop unrolled PREFETCH = 2 times
    # PDL: griddepcontrol.wait (ACQBULK) before x's first loads, launch_dependents (PREEXIT) after the loop
    assert (wait and release) == pdl
    words = 2 * 2 * wpl * rows  # a lane's words in two chunks (rows g and g + 8 of each of its blocks)
    assert loop.get("LDS", 0) == 4 * words and loop.get("PRMT", 0) == 4 * words
    assert sum(count for op, count in loop.items() if op.startswith("HMMA")) == 2 * 2 * wpl * tiles * rows
    assert loop.get("IMAD.MOV.U32", 0) <= 2, "the prefetch ring's registers move each chunk"
    assert not any(op.startswith("BAR") for op in loop)
    weights = 8 * words
    bound = 2.0 if wpl == 4 else 2.5  # a narrower chunk spends more on its loads' addresses and the loop
    assert n / weights < bound, f"{n} instructions for {weights} weights a lane"


@pytest.mark.parametrize("wpl, rows, stages", [(4, 1, 4), (2, 1, 6), (4, 2, 3), (1, 1, 2), (4, 4, 2)])
def test_the_staged_ring_copies_and_reads_each_lanes_words_without_a_barrier_in_the_loop(wpl, rows, stages):
    """STAGES: per step a lane's code words are one cp.async (LDGSTS, 4 WPL bytes) per row of its blocks and one
    vector shared load (LDS.128 / .64 / .32) each, a wait for all but STAGES - 1 groups, and no CTA barrier (the
    copies and reads are inline asm, each thread reading its own words); the lookups as the register ring has them."""
    if not HAVE_PAIRS:
        pytest.skip("needs Triton >= 3.9 (Gluon's inline_asm with shared-memory operands)")
    rb = 2 if rows == 1 else 1
    const = {"NV": 16, "RB": rb, "ROWS": rows, "WK": 4, "WPL": wpl, "PREFETCH": 2, "TABLES": 1, "TILES": 2,
             "USE_SPLIT": True, "BF16": False, "PDL": True, "XRING": 0, "STAGES": stages}  # fmt: skip
    ((n, loop, _, _, _),) = sm90_results(_COMPILE_SCRIPT, [const])  # two steps: the loop unrolled PREFETCH = 2 times
    copies = {op: c for op, c in loop.items() if op.startswith("LDGSTS")}
    reads = {4: "LDS.128", 2: "LDS.64", 1: "LDS"}[wpl]
    assert sum(copies.values()) == 2 * 2 * rows, copies
    assert loop.get("DEPBAR.LE", 0) == 2 and loop.get("LDGDEPBAR", 0) == 2
    assert not any(op.startswith("BAR") for op in loop), loop
    assert not any(op.startswith("LDG.E") and op != "LDG.E.128" for op in loop)  # only x is loaded to registers
    words = 2 * 2 * wpl * rows
    lookups = loop.get("LDS", 0) - (2 * 2 * rows if wpl == 1 else 0)  # ptxas adds 3 never-run LDS a step (@!PT)
    assert 4 * words <= lookups <= 4 * words + 2 * 3 and loop.get("PRMT", 0) == 4 * words
    if wpl > 1:
        assert loop.get(reads, 0) == 2 * 2 * rows
    bound = {4: 2.2, 2: 2.9, 1: 4.2}[wpl]  # a narrower chunk spends more on its copies' and reads' addresses
    assert n / (8 * words) < bound, f"{n} instructions for {8 * words} weights a lane"


@pytest.mark.parametrize("wpl, tiles, stages, pdl",
                         [(4, 1, 4, True), (2, 2, 3, False), (4, 2, 2, True), (1, 2, 3, True)])  # fmt: skip
def test_x_staged_beside_the_code_words_leaves_the_loop_no_global_load(wpl, tiles, stages, pdl):
    """XSTAGE: per step, besides the code words' copies, one 16-byte cp.async per word and tile of 8 tokens (x's two
    quads) in the same commit group, read back by one LDS.128 each; the loop then has no global load and no CTA
    barrier, and its lookups and MMAs are the register ring's."""
    if not HAVE_PAIRS:
        pytest.skip("needs Triton >= 3.9 (Gluon's inline_asm with shared-memory operands)")
    const = {"NV": 16, "RB": 2, "ROWS": 1, "WK": 4, "WPL": wpl, "PREFETCH": 2, "TABLES": 1, "TILES": tiles,
             "USE_SPLIT": True, "BF16": False, "PDL": pdl, "XRING": 0, "STAGES": stages, "XSTAGE": 1}  # fmt: skip
    ((n, loop, wait, release, _),) = sm90_results(_COMPILE_SCRIPT, [const])  # two steps (PREFETCH = 2)
    assert (wait and release) == pdl
    copies = {op: c for op, c in loop.items() if op.startswith("LDGSTS")}
    x_copies = 2 * wpl * tiles
    assert sum(copies.values()) == 2 * 2 + x_copies, copies  # code words: rows g and g + 8, two steps
    assert loop.get("LDGDEPBAR", 0) == 2 and loop.get("DEPBAR.LE", 0) == 2  # one group and one wait a step
    assert not any(op.startswith(("LDG.", "BAR")) for op in loop), loop
    assert loop.get("LDS.128", 0) == x_copies + (2 * 2 if wpl == 4 else 0)  # the code words' too at WPL 4
    words = 2 * 2 * wpl
    assert loop.get("PRMT", 0) == 4 * words
    assert sum(c for op, c in loop.items() if op.startswith("HMMA")) == 2 * 2 * wpl * tiles
    lookups = loop.get("LDS", 0) - (2 * 2 if wpl == 1 else 0)  # WPL 1: the code words' reads are plain LDS too
    assert 4 * words <= lookups <= 4 * words + 2 * 3


def _longest_lookup_run(ops: list[str]) -> int:
    """The most lookups (plain LDS) a warp issues with no MMA between them, around the loop."""
    best = run = 0
    for op in ops + ops:  # twice: a run may wrap around the loop's branch
        if op.startswith("HMMA"):
            run = 0
        elif op == "LDS":
            run += 1
            best = max(best, run)
    return min(best, ops.count("LDS"))


@pytest.mark.parametrize("wpl, rows, tables, stages, xstage, tiles, ahead", [
    (4, 1, 1, 4, 1, 1, 1), (4, 1, 1, 4, 1, 1, 2), (4, 1, 1, 3, 1, 2, 1), (4, 1, 1, 6, 1, 2, 2), (2, 1, 1, 4, 1, 1, 2),
    (4, 2, 2, 4, 1, 2, 2), (4, 1, 1, 4, 0, 1, 2)])  # fmt: skip
def test_reading_the_rings_ahead_issues_a_steps_lookups_before_its_wait_for_the_copies(
        wpl, rows, tables, stages, xstage, tiles, ahead):  # fmt: skip
    """RING_AHEAD: a step's words (and x) were read back at the step before, so its lookups come before the loop's
    wait for the copies (DEPBAR), where without it they come after the wait and the ring's read-back; with 2 the
    next step's lookups are issued in one run, a whole step's, with no MMA among them. The same lookups, permutes and
    MMAs a step, and still no CTA barrier in the loop."""
    if not HAVE_PAIRS:
        pytest.skip("needs Triton >= 3.9 (Gluon's inline_asm with shared-memory operands)")
    rb = 2 if wpl == 2 else 1
    const = {"NV": 16, "RB": rb, "ROWS": rows, "WK": 4, "WPL": wpl, "PREFETCH": 2, "TABLES": tables, "TILES": tiles,
             "USE_SPLIT": True, "BF16": False, "PDL": True, "XRING": 0, "STAGES": stages, "XSTAGE": xstage}  # fmt: skip
    (_, base_loop, _, _, base_ops), (_, loop, wait, release, ops) = sm90_results(
        _COMPILE_SCRIPT, [const, {**const, "RING_AHEAD": ahead}])
    assert wait and release
    words = 2 * 2 * wpl * rows  # two steps (PREFETCH 2) of rows g and g + 8 of each block
    assert loop.get("PRMT", 0) == base_loop.get("PRMT", 0) == 4 * words
    mmas = sum(c for op, c in loop.items() if op.startswith("HMMA"))
    assert mmas == sum(c for op, c in base_loop.items() if op.startswith("HMMA")) == 2 * 2 * wpl * tiles * rows
    assert not any(op.startswith("BAR") for op in loop), loop
    assert base_ops.index("DEPBAR.LE") < base_ops.index("LDS")
    assert ops.index("LDS") < ops.index("DEPBAR.LE")
    if ahead == 2:
        assert _longest_lookup_run(ops) >= 4 * 2 * wpl * rows > _longest_lookup_run(base_ops)


@pytest.mark.parametrize("ahead, stages", [(1, 0), (1, 2), (2, 3), (3, 8)])
def test_reading_the_rings_ahead_needs_stages_past_the_one_being_refilled(ahead, stages):
    x = torch.zeros(1, 256, dtype=torch.float16)
    codes = torch.zeros(64, 128, dtype=torch.uint8)
    lut = torch.zeros(1, 64, 1, 16, dtype=torch.float16)
    with pytest.raises(ValueError, match="RING_AHEAD"):
        launch_decode_pairs(x, codes, lut, torch.zeros(1, dtype=torch.int32), 4, torch.empty(1, 64), {
            "RB": 1, "WPL": 4, "STAGES": stages, "RING_AHEAD": ahead})


def test_x_staged_needs_the_code_words_ring():
    x = torch.zeros(1, 256, dtype=torch.float16)
    codes = torch.zeros(64, 128, dtype=torch.uint8)
    lut = torch.zeros(1, 64, 1, 16, dtype=torch.float16)
    with pytest.raises(ValueError, match="STAGES"):
        launch_decode_pairs(x, codes, lut, torch.zeros(1, dtype=torch.int32), 4, torch.empty(1, 64), {
            "RB": 1, "WPL": 4, "XSTAGE": 1})


CUDA_CASES = [
    # m, n, k, bits, gpr, config, x dtype
    (1, 4096, 4096, 4, 1, {"RB": 2, "WPL": 4, "SPLIT_K": 3}, torch.float16),
    (4, 11008, 4096, 4, 4, {"RB": 1, "WPL": 4, "SPLIT_K": 2, "PREFETCH": 3}, torch.float16),
    (16, 4096, 11008, 4, 4, {"RB": 2, "WPL": 2, "SPLIT_K": 8, "PREFETCH": 1}, torch.float16),
    (9, 200, 512, 3, 2, {"RB": 4, "WPL": 2, "SPLIT_K": 2}, torch.bfloat16),
    (16, 72, 256, 4, 1, {"RB": 1, "WPL": 1, "PREFETCH": 4}, torch.bfloat16),
    (3, 48, 1024, 4, 8, {"RB": 2, "WPL": 4, "SPLIT_K": 4, "PREFETCH": 3}, torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 2, "WK": 4, "WPL": 4}, torch.float16),
    (8, 11008, 4096, 3, 4, {"RB": 1, "WK": 2, "WPL": 2, "SPLIT_K": 2}, torch.bfloat16),
    (16, 100, 2048, 4, 2, {"RB": 4, "WK": 2, "WPL": 4, "SPLIT_K": 2, "PREFETCH": 3}, torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 2, "WK": 4, "WPL": 4, "TABLES": 2}, torch.float16),
    (5, 11008, 4096, 4, 4, {"RB": 4, "WK": 2, "WPL": 4, "TABLES": 2, "SPLIT_K": 2}, torch.bfloat16),
    (16, 4096, 4096, 4, 1, {"RB": 1, "ROWS": 2, "WK": 4, "WPL": 4, "TABLES": 2}, torch.float16),
    (12, 300, 2048, 3, 2, {"RB": 2, "ROWS": 2, "WK": 2, "WPL": 2, "SPLIT_K": 3}, torch.bfloat16),
    (16, 4096, 4096, 4, 1, {"RB": 2, "WK": 4, "WPL": 4, "PREFETCH": 4, "XRING": 2, "TABLES": 2}, torch.float16),
    (1, 11008, 4096, 4, 4, {"RB": 2, "WK": 4, "WPL": 4, "PREFETCH": 4, "XRING": 1}, torch.bfloat16),
    # the code words through a shared-memory ring (STAGES, fifty-first session): ring depths 1-8, WPL 1/2/4 (copies of
    # 4, 8, 16 bytes), ROWS 2, split-K with steps past a split's range staged and never read
    (1, 4096, 4096, 4, 1, {"RB": 2, "WK": 4, "WPL": 4, "STAGES": 4}, torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 2, "WK": 4, "WPL": 2, "STAGES": 6, "XRING": 1}, torch.float16),
    (7, 11008, 4096, 4, 4, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 8, "SPLIT_K": 2}, torch.bfloat16),
    (16, 300, 2048, 3, 2, {"RB": 2, "ROWS": 2, "WK": 2, "WPL": 2, "STAGES": 3, "SPLIT_K": 3}, torch.bfloat16),
    (16, 72, 256, 4, 1, {"RB": 1, "WPL": 1, "STAGES": 1, "PREFETCH": 4}, torch.float16),
    (4, 4096, 11008, 4, 4, {"RB": 2, "WK": 1, "WPL": 2, "STAGES": 4, "SPLIT_K": 8, "TABLES": 2}, torch.float16),
    # 8 and 16 warps a row block (fifty-second session): the table written and the warps' sums added by 8-16 warps
    (1, 4096, 4096, 4, 1, {"RB": 1, "WK": 8, "WPL": 4}, torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 1, "WK": 16, "WPL": 2}, torch.float16),
    (11, 11008, 4096, 4, 4, {"RB": 2, "WK": 8, "WPL": 2, "SPLIT_K": 2}, torch.bfloat16),
    (16, 4096, 4096, 4, 1, {"RB": 1, "WK": 8, "WPL": 4, "STAGES": 3, "ROWS": 2, "TABLES": 2}, torch.float16),
    (3, 100, 2048, 3, 2, {"RB": 1, "WK": 16, "WPL": 1, "SPLIT_K": 2, "PREFETCH": 4}, torch.bfloat16),
    # x through a ring of its own beside the code words' (XSTAGE, fifty-second session): 1 and 2 tiles of tokens,
    # WPL 1-4, ROWS 2, split-K, 3-bit codes
    (1, 4096, 4096, 4, 1, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 4, "XSTAGE": 1}, torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 2, "WK": 4, "WPL": 2, "STAGES": 3, "XSTAGE": 1}, torch.float16),
    (13, 11008, 4096, 4, 4, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 2, "XSTAGE": 1, "SPLIT_K": 2}, torch.bfloat16),
    (9, 300, 2048, 3, 2, {"RB": 2, "ROWS": 2, "WK": 2, "WPL": 2, "STAGES": 3, "XSTAGE": 1, "SPLIT_K": 3},
     torch.bfloat16),
    (5, 72, 256, 4, 1, {"RB": 1, "WPL": 1, "STAGES": 2, "XSTAGE": 1, "PREFETCH": 4}, torch.float16),
    # the fifty-third session's best at 16 tokens: two row blocks a warp on two tables, x staged; four blocks a warp
    (16, 4096, 4096, 4, 1, {"RB": 1, "ROWS": 2, "WK": 4, "WPL": 4, "TABLES": 2, "STAGES": 3, "XSTAGE": 1},
     torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 1, "ROWS": 4, "WK": 4, "WPL": 4, "TABLES": 2, "STAGES": 2, "XSTAGE": 1},
     torch.float16),
    (12, 300, 2048, 4, 2, {"RB": 1, "ROWS": 4, "WK": 2, "WPL": 2, "TABLES": 1, "SPLIT_K": 2}, torch.bfloat16),
    # the rings read ahead (RING_AHEAD 1: words and x a step ahead; 2: also the pairs a step ahead, words two;
    # seventy-seventh session): 3-8 stages, x staged or in registers, ROWS 2, split-K (steps past a split's range read
    # and looked up ahead, never used), 3-bit codes, one and two tiles of tokens
    (1, 4096, 4096, 4, 1, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 3, "XSTAGE": 1, "RING_AHEAD": 1}, torch.float16),
    (4, 4096, 4096, 4, 1, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 4, "XSTAGE": 1, "RING_AHEAD": 2}, torch.float16),
    (1, 4096, 4096, 4, 1, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 6, "XSTAGE": 1, "RING_AHEAD": 2}, torch.float16),
    (16, 4096, 4096, 4, 1, {"RB": 1, "ROWS": 2, "WK": 4, "WPL": 4, "TABLES": 2, "STAGES": 4, "XSTAGE": 1,
                            "RING_AHEAD": 2}, torch.float16),  # fmt: skip
    (13, 11008, 4096, 4, 4, {"RB": 2, "WK": 4, "WPL": 2, "STAGES": 3, "XSTAGE": 1, "SPLIT_K": 2, "RING_AHEAD": 1},
     torch.bfloat16),
    (7, 11008, 4096, 4, 4, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 8, "SPLIT_K": 2, "RING_AHEAD": 2}, torch.bfloat16),
    (9, 300, 2048, 3, 2, {"RB": 2, "ROWS": 2, "WK": 2, "WPL": 2, "STAGES": 4, "XSTAGE": 1, "SPLIT_K": 3,
                          "RING_AHEAD": 2}, torch.bfloat16),  # fmt: skip
    (5, 72, 256, 4, 1, {"RB": 1, "WPL": 1, "STAGES": 3, "XSTAGE": 1, "PREFETCH": 4, "RING_AHEAD": 1}, torch.float16),
    (11, 4096, 4096, 4, 1, {"RB": 1, "WK": 4, "WPL": 4, "STAGES": 5, "RING_AHEAD": 2}, torch.float16),
]


@pytest.mark.skipif(not CUDA, reason="the kernel runs on CUDA")
@pytest.mark.parametrize("case", CUDA_CASES, ids=lambda c: f"m{c[0]}n{c[1]}k{c[2]}b{c[3]}g{c[4]}")
def test_on_cuda_the_kernel_matches_the_reference_into_a_poisoned_output(case):
    m, n, k, bits, gpr, config, dtype = case
    x, codes, lut, slots = make_case(m, n, k, bits, gpr, 3, "one", dtype)
    if not pairs_ok(x, codes, lut, bits, gpr, config["WPL"], config.get("WK", 1)):
        pytest.skip("the pair-table kernel does not run here (sm_90 and Triton >= 3.9)")
    y = torch.full((m, n), float("nan"), dtype=dtype, device=x.device)
    for _ in range(2):  # twice: the split counters are reset for the next launch
        launch_decode_pairs(x, codes, lut, slots, bits, y, config)
    ref = lut_linear_reference(x.float(), codes, lut.float(), slots, bits)
    assert rel_err(y, ref) < (3e-3 if dtype == torch.float16 else 1.5e-2)


@pytest.mark.parametrize("faster", ["pairs", "one"])
def test_a_one_task_batch_takes_whichever_of_the_pair_kernel_and_the_gather_class_ran_faster(monkeypatch, faster):
    """The op's pairs class times the pair kernel's tuned choice against the gather class's once per shape and row
    bucket (autotune key "decode_family", both timed, the gather class the reference) and serves the batch by the
    faster; its kernels are stood in for here (the choice's logic, not the kernels, is under test)."""
    x, codes, lut, slots = make_case(1, 64, 256, 4, 1, 3, "one", torch.float16)
    launched = []
    monkeypatch.setattr(triton_ops, "pairs_ok", lambda *a: True)
    monkeypatch.setattr(triton_ops, "launch_decode_pairs", lambda *a: launched.append(("pairs", a[-1])))
    monkeypatch.setattr(triton_ops, "launch_decode", lambda *a: launched.append(("one", a[-1])))
    asked = {}

    def pick_config(kernel, key, candidates, launch, default, device, output=None):
        asked[kernel] = candidates()
        if kernel != "decode_family":
            return default()
        for family in asked[kernel]:  # as the tuner times them
            launch(family)
        return {"KERNEL": faster}

    monkeypatch.setattr(triton_ops.autotune, "pick_config", pick_config)
    y = torch.empty(1, 64, dtype=torch.float16)
    taken = triton_ops._launch_pairs(x, codes, lut, slots, 4, y, 132, 256)
    assert asked["decode_family"] == [{"KERNEL": "one"}, {"KERNEL": "pairs"}]
    pairs_config = triton_ops.default_pairs_config(64, 256, 256, 132)
    one_config = triton_ops.default_decode_config(1, 64, 256, 132)
    assert launched[:2] == [("one", one_config), ("pairs", pairs_config)]  # both timed, each with its own choice
    assert taken == (faster == "pairs")
    assert launched[2:] == ([("pairs", pairs_config)] if faster == "pairs" else [])  # else the caller's gather path


@pytest.mark.skipif(not CUDA, reason="the kernel runs on CUDA")
@pytest.mark.parametrize("m", [1, 16])
def test_on_cuda_the_op_times_the_kernel_for_one_known_task(monkeypatch, m):
    """Under SKETCHSERVE_PAIRS_DECODE the op's one-task batches time the pair kernel (then serve by it or by the
    gather class, whichever ran faster); either way the output is right."""
    x, codes, lut, slots = make_case(m, 1024, 2048, 4, 2, 3, "one", torch.float16)
    if not pairs_ok(x, codes, lut, 4, 2, 1):
        pytest.skip("the pair-table kernel does not run here (sm_90 and Triton >= 3.9)")
    monkeypatch.setattr(triton_ops, "PAIRS_DECODE", True)
    launched = []
    monkeypatch.setattr(triton_ops, "launch_decode_pairs", lambda *a: launched.append(a[-1]) or launch_decode_pairs(*a))
    y = triton_ops.lut_linear_forward(x, codes, lut, slots, 4, num_tasks=1)
    ref = lut_linear_reference(x.float(), codes, lut.float(), slots, 4)
    assert launched and rel_err(y, ref) < 3e-3
