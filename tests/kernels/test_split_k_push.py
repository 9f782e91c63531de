"""The fragment kernel's split-K partials pushed on chip (kernels/split_k_push.py, PUSH in triton_decode_mma.py): its
send and receive maps in the interpreter, its sm_90 code without a GPU, and its results on CUDA."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

from kernels import split_k_push
from kernels.reference import lut_linear_reference
from kernels.triton_decode import MODE_MMA, launch_decode
from kernels.triton_decode_mma import _push_slot, _pushed_value, launch_decode_mma

from .compiled_layouts import sm90_results
from .test_triton_forward import DEVICE, TOL, make_case, rel_err


@triton.jit
def _push_map_kernel(sent_ptr, read_ptr, WARPS: tl.constexpr, SPLIT: tl.constexpr, TILES: tl.constexpr,
                     ROWS: tl.constexpr):  # fmt: skip
    """Program `rank` of one row tile (pid_n 0) as the kernel's _push_y sends and reads: sent[owner buffer word] <-
    the (token, row) of the value a lane pushes there (tile 0 block 0, tile 1, then block 1's, 4 values each: c0 ..
    c3 = (tok, r), (tok + 1, r), (tok, r + 8), (tok + 1, r + 8)); read[this CTA's buffer word] <- the (token, row)
    the owner sums it into. Encoded as token x 4096 + row."""
    NT: tl.constexpr = 32 * WARPS
    V: tl.constexpr = 4 * TILES * ROWS
    WORDS: tl.constexpr = NT * V  # a CTA's buffer, fp32 words
    rank = tl.program_id(0)
    lane = tl.arange(0, NT)
    owner, offset = _push_slot(lane, rank, WARPS, SPLIT, V)
    r0 = (lane // 32) * (16 * ROWS) + (lane % 32) // 4  # _lane_rows' r0 at pid_n 0
    for group in tl.static_range(TILES * ROWS):
        tile = group % TILES
        block = group // TILES
        for c in tl.static_range(4):
            tok = 2 * (lane % 4) + 8 * tile + c % 2
            row = r0 + 16 * block + 8 * (c // 2)
            tl.store(sent_ptr + owner * WORDS + offset // 4 + 4 * group + c, tok * 4096 + row)
    PART: tl.constexpr = (WARPS // SPLIT) * 32 * V
    for i in tl.static_range((PART + NT - 1) // NT):
        u = i * NT + lane
        at, tok, row = _pushed_value(tl.minimum(u, PART - 1), 0, rank, WARPS, SPLIT, TILES, ROWS)
        for s in tl.static_range(SPLIT):
            tl.store(read_ptr + rank * WORDS + s * PART + at // 4, tok * 4096 + row, mask=u < PART)


@pytest.mark.parametrize("warps,split,tiles,rows", [(8, 8, 1, 1), (8, 4, 2, 1), (8, 2, 2, 2), (4, 4, 1, 2),
                                                    (2, 2, 2, 2), (4, 2, 1, 1)])  # fmt: skip
def test_every_pushed_value_is_summed_into_its_own_token_and_row(warps, split, tiles, rows):
    """Over a cluster of `split` programs, every word of every owner's buffer is written by exactly one lane's push
    and read back for the (token, row) that lane's accumulator holds; each (token, row) of the row tile is summed by
    one owner from all `split` sources."""
    words = 32 * warps * 4 * tiles * rows
    sent = torch.full((split * words,), -1, dtype=torch.int32, device=DEVICE)
    read = torch.full((split * words,), -2, dtype=torch.int32, device=DEVICE)
    _push_map_kernel[(split,)](sent, read, warps, split, tiles, rows)
    assert (sent >= 0).all() and torch.equal(sent, read)
    pairs = torch.unique(sent, return_counts=True)
    assert len(pairs[0]) == 8 * tiles * 16 * rows * warps and (pairs[1] == split).all()


class _Kernel:
    """A JITFunction's two entry points as cluster_launch uses them, recording the calls."""

    def __init__(self, compiled):
        self.calls, self.compiled = [], compiled

    def warmup(self, *args, grid, **kwargs):
        self.calls.append(("compile", grid))
        return self.compiled

    def __getitem__(self, grid):
        return lambda *args, **kwargs: self.calls.append(("launch", grid))


class _Future:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def test_a_cluster_launch_patches_the_compiled_kernel_before_launching_it(monkeypatch):
    """cluster_launch compiles first (no launch: as one CTA a pushing kernel would wait forever), sets the compiled
    kernel's packed metadata to clusters of ctas (num_warps and shared memory kept), then launches the same grid;
    a future of a compiled kernel (Triton's asynchronous compile mode) is waited for first."""
    monkeypatch.setattr(split_k_push, "compiling_only", lambda: False)
    compiled = type("Compiled", (), {"packed_metadata": (8, 1, 4096)})()
    kernel = _Kernel(_Future(compiled))
    split_k_push.cluster_launch(kernel, (32,), 8, "x", BITS=4)
    assert kernel.calls == [("compile", (32,)), ("launch", (32,))]
    assert compiled.packed_metadata == (8, 8, 4096)


def test_inside_compile_ahead_a_cluster_launch_only_compiles(monkeypatch):
    """Inside kernels.compile_ahead every launch only compiles, perhaps on another thread and perhaps not at all
    (a variant already submitted): cluster_launch then neither waits for the compile nor patches anything."""
    monkeypatch.setattr(split_k_push, "compiling_only", lambda: True)
    kernel = _Kernel(None)
    split_k_push.cluster_launch(kernel, (32,), 8, "x")
    assert kernel.calls == [("launch", (32,))]


_PUSH_SCRIPT = r"""
import json, re, sys
sys.path.insert(0, "benchmarks")
from bench_kernels import compile_decode_mma_sm90
from kernels.split_k_push import push_setup_asm
out = []


def _order(ops, op, last=False):
    at = [i for i, o in enumerate(ops) if o == op] or [-1]
    return at[-1] if last else at[0]


for warps, tiles, rows, push in ((8, 1, 1, 0), (8, 1, 1, 8), (8, 2, 2, 4)):
    const = {"BITS": 4, "WARPS": warps, "WPL": 4, "TILES": tiles, "ROWS": rows, "USE_SPLIT": True, "ASM": True,
             "BF16": False, "X16": True, "PDL": True, "AHEAD": 2, "EARLY": True, "PUSH": push,
             "PUSH_SETUP": push_setup_asm(32 * warps * 4 * tiles * rows * 4, wait=False) if push else ""}
    regs, stack, shared, sass = compile_decode_mma_sm90(const, warps)
    ops = re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass)
    out.append([tiles * rows, sum(op.startswith("STAS") for op in ops), sum(op.startswith(("ATOM", "RED."))
                for op in ops), sum(op.startswith("MEMBAR") for op in ops),
                sum(op == "HMMA.16816.F32" for op in ops), int(stack),
                _order(ops, "UCGABAR_ARV") < _order(ops, "HMMA.16816.F32")
                and _order(ops, "UCGABAR_WAIT") > _order(ops, "HMMA.16816.F32", last=True)])
print(json.dumps(out))
"""


def test_a_pushing_program_sends_its_partials_by_st_async_and_needs_no_fence_or_counter():
    """sm_90 code (no GPU): with PUSH, one 16-byte st.async (STAS.128) a tile and row block, no atomics and no
    memory barrier; without it, the workspace epilogue's arrival atomic and its fence. The MMAs are the same. The
    cluster arrive comes before the first MMA and its wait after the last: no CTA waits for its peers' start."""
    (_, stas0, atomics0, membars0, mma0, _, _), *pushing = sm90_results(_PUSH_SCRIPT, None)
    assert stas0 == 0 and atomics0 >= 1 and membars0 >= 1
    for groups, stas, atomics, membars, _, stack, arrive_first_wait_last in pushing:
        assert stas == groups and atomics == 0 and membars == 0 and stack == 0
        assert arrive_first_wait_last
    assert pushing[0][4] == mma0


def test_push_needs_a_split_of_2_4_or_8_that_divides_the_warps():
    if not torch.cuda.is_available():
        pytest.skip("the interpreter keeps the workspace epilogue whatever PUSH says")
    x, codes, pool, slots = make_case(4, 256, 1024, 4, 1, 1, "one", torch.float16)
    y = torch.empty(4, 256, dtype=torch.float16, device=DEVICE)
    with pytest.raises(ValueError, match="cluster of 2, 4 or 8"):
        launch_decode_mma(x, codes, pool, slots, 4, y, {"num_warps": 2, "WPL": 4, "SPLIT_K": 4, "PUSH": 1})


def test_the_interpreter_runs_a_push_config_through_the_workspace():
    """PUSH needs a cluster launch, which the interpreter has not: there the config runs the workspace epilogue and
    gives the same result (the CPU test of everything but the push itself)."""
    if torch.cuda.is_available():
        pytest.skip("on CUDA the push itself runs (test_a_pushed_split_k_matches_the_reference_on_cuda)")
    x, codes, pool, slots = make_case(4, 64, 1024, 4, 2, 1, "one", torch.float16, seed=3)
    y = torch.full((4, 64), float("nan"), dtype=torch.float16, device=DEVICE)
    launch_decode(x, codes, pool, slots, 4, y, {"MODE": MODE_MMA, "num_warps": 2, "WPL": 2, "SPLIT_K": 2, "PUSH": 1})
    assert rel_err(y, lut_linear_reference(x, codes, pool, slots, 4)) < TOL[torch.float16]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    "m,n,k,warps,rows,split,extra",
    [
        (4, 4096, 4096, 8, 1, 8, {"AHEAD": 2, "EARLY": 1}),  # the shipped 4-token 4096x4096 choice, pushed
        (8, 300, 2048, 8, 1, 8, {"AHEAD": 3}),  # rows past N
        (16, 512, 2048, 4, 2, 4, {}),  # two tiles, two row blocks
        (3, 256, 1024, 2, 1, 2, {"AHEAD": 2}),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_pushed_split_k_matches_the_reference_on_cuda(m, n, k, warps, rows, split, extra, dtype):
    x, codes, pool, slots = make_case(m, n, k, 4, 4, 1, "one", dtype, seed=m + split)
    want = lut_linear_reference(x, codes, pool, slots, 4)
    for _ in range(2):  # the second launch finds the compiled kernel already made a cluster launch
        y = torch.full((m, n), float("nan"), dtype=dtype, device=DEVICE)
        launch_decode_mma(x, codes, pool, slots, 4, y, {"num_warps": warps, "WPL": 4, "ROWS": rows, "SPLIT_K": split,
                                                        "PUSH": 1, **extra})  # fmt: skip
        assert rel_err(y, want) < TOL[dtype]
