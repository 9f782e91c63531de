"""Entry points that kernels/lut_linear.py dispatches to on CUDA: forward (decode or prefill) and backward.

    lut_linear_forward(x [M, K], codes_packed [N, KP], lut_pool [S, N, gpr, L], slot_of_token [M], bits,
                       segments) -> y [M, N] in x.dtype
    lut_linear_backward(grad_y [M, N], x, codes_packed, lut_pool, slot_of_token, bits, need_grad_x,
                        need_grad_lut) -> (grad_x [M, K] | None, grad_lut like lut_pool | None)

M <= DECODE_MAX_M takes a decode kernel (codes tile read once for the whole batch, split-K): the gather
kernel (triton_decode.py, one LUT gather per weight per distinct slot) or the bucket-sum kernel
(triton_bucket.py, x @ one-hot on tensor cores, independent of the number of slots). Larger M the
prefill kernel (tokens grouped by slot, tensor cores). Shapes and the slot range are checked by
lut_linear.py; here only the layout the kernels assume (strides) is checked.

Decode kernel choice: SKETCHSERVE_DECODE_KERNEL=gather|bucket|auto (default auto; read at import, or set
DECODE_KERNEL / pass decode_kernel=). auto takes the bucket kernel only when the number of distinct
slots is known on the host (num_tasks, or SlotSegments.host_bounds) and is >= bucket_min_tasks(M), for
fp16/bf16 x. Below that, a batch of up to FEW_MAX_M rows over 2 or more known tasks is the few-task class: the
fragment kernel (triton_decode_mma.py) with its own tuned choice, timed over several tasks (the gather class's
choice is timed over one; SKETCHSERVE_FEW_TASKS=0 turns the class off). A batch of up to 16 rows of one known task
(num_tasks 1) takes the pair-table kernel (gluon_decode_pairs.py; sm_90, Triton >= 3.9) where its tuned choice
ran faster than the gather class's at that shape (timed once per shape and row bucket; on by default,
SKETCHSERVE_PAIRS_DECODE=0 turns it off). On the H100 (fifty-fourth session) the op's choice was no slower than
the gather class alone (within 0.4 %) and 1.2-1.5x faster at 16 rows on 4096x4096 and 11008x4096 (there against
a choice Triton 3.9 tuned 1.6x slower than 3.6's); the 7B-shaped server's one-task step at batch 4 went 3.71 -> 3.11
ms. task_classes(M) lists the counts where the kernel changes. Never read back from the device: the decode step
runs under CUDA graphs.

int8_base (the int8 activation mode: the base LUT's tables, triton_bucket_int8.base_tables of lut_pool[0]):
a bucket-class batch of 9-16 rows on sm_90 takes the int8 bucket kernel's BASE_CORR form (x's high int8 digit
through each token's LUT, the remainder through the base's: 1.4x the WIDE form's kernel time on the H200, and as
accurate as fp16 on a real task LUT of the default model; off by (W_task - W_base) r where a task LUT moves the
weights far from the base's). int8_digits: x's digits written by the kernel that made x (int8_digits_buffers, the
fused RMSNorm), so that such a call launches no digits kernel of its own; int8_takes says which calls take it.
"""

from __future__ import annotations

import functools
import os

import numpy
import torch
import triton

from kernels import autotune
from kernels.gluon_decode_pairs import HAVE_PAIRS, default_pairs_config, launch_decode_pairs, pairs_candidates, pairs_ok
from kernels.gluon_decode_pairs import MAX_TOKENS as PAIRS_MAX_M
from kernels.lut_linear import SlotSegments
from kernels.triton_backward import (
    default_grad_lut_config,
    default_grad_x_config,
    launch_grad_lut,
    launch_grad_x,
)
from kernels.triton_bucket import bucket_candidates, default_bucket_config, launch_bucket
from kernels.triton_bucket_int8 import INT8_MAX_M, INT8_MIN_M, int8_base_corr_config, launch_bucket_int8
from kernels.triton_bucket_wgmma import bucket_wgmma_configs_for, bucket_wgmma_ok
from kernels.triton_common import check_inputs, pdl_scope, segments_of_sorted, sort_tokens_by_slot
from kernels.triton_decode import (
    MODE_MMA,
    MODE_PRMT,
    decode_candidates,
    default_decode_config,
    default_few_task_config,
    few_task_candidates,
    launch_decode,
)
from kernels.triton_decode_mma import MAX_TOKENS as FEW_MAX_M
from kernels.triton_decode_mma import mma_ok
from kernels.triton_decode_prmt import half2_ok, prmt_ok
from kernels.triton_decode_prmt_tokens import tokens_ok
from kernels.triton_prefill import (
    DENSE_MAX_SEGMENTS,
    DENSE_MIN_MEAN_TOKENS,
    DENSE_MIN_TOKENS,
    default_prefill_config,
    launch_dense_segments,
    launch_prefill,
    prefill_candidates,
)
from kernels.triton_prefill_prmt import (
    MAX_TILED_SEGMENTS,
    SegmentTiles,
    default_prefill_prmt_config,
    launch_prefill_prmt,
    prefill_prmt_candidates,
    prefill_prmt_ok,
)
from kernels.triton_prefill_wgmma import (
    HAVE_GLUON,
    launch_prefill_wgmma,
    prefill_wgmma_candidates,
    wgmma_prefill_ok,
)

# A prefill of per-token slots read back by the caller plans per run of equal slots (_host_planned); 0 turns it
# off (the fused kernel over sorted slots, as before the seventy-second session).
HOST_PLAN = os.environ.get("SKETCHSERVE_HOST_PLAN", "1") != "0"
# Runs of at least this mean length whose long ones (DENSE_MIN_TOKENS) the plan would put in segment tiles, not
# dense (dense_pays), stay with the fused kernel: the plan's host work follows the range check's device read, and
# there it cost more than the tiles saved (H100, 2,048 tokens over 8 tasks: 473 against 349 us on 4096x4096, 938
# against 855 on 11008x4096; at 64-token runs and shorter, and for one run, the plan won; NOTES.md, seventy-fourth
# session).
HOST_PLAN_FUSED_MEAN_RUN = 256
SHORT_SEGMENTS, MAX_SEGMENT_CLASS = 64, 256  # the segment tiles' two classes of mean segment length (_launch_tiles)
DECODE_MAX_M = 64  # above this the prefill kernel's token tiles beat one split-K tile of all tokens
# Distinct slots from which auto mode takes the bucket-sum decode kernel, by batch rows M. Measured on an H200
# (benchmarks/NOTES.md v9, v11; CUDA-graph timings, each kernel's autotuned config):
# M <= 16: with the v11 bucket kernel (cols layout, PAIRS; results/kernels_h200.json, 2026-11-30 fourth session)
#          4096x4096 gather 17 / 39 / 54 / 163 us at 1 / 4 (M=4) / 4 / 16 slots, bucket 34-38 at any count;
#          11008x4096 gather 31 / 95 / 349 at 1 / 4 / 16, bucket 83-89. The bucket kernel wins from 4 slots
#          (at 2 slots gather is ~28 us on 4096x4096, v9): from 4. Serving, batch 16 over 4 tasks: 1,045 tok/s
#          through gather, 1,260 through the bucket kernel.
# M > 16:  4096x4096 gather 21 us at 1 slot, 181 at 16 (~10.7 per slot), bucket (rows layout; the cols layout
#          spills above 16 rows) 146 at any count; 11008x4096 55 / 479 vs 423-427: they cross at 13-14: from 13.
# SKETCHSERVE_BUCKET_MIN_TASKS (read at import) sets one threshold for every M.
# With the few-task class (eighteenth session, results/mma_tasks_grid_gpr1_h200.log and .png; a layer's four
# projections, gpr 1): at 16 rows 2 tasks 175 us against 185 through the one-task choice and 332 through the bucket
# kernel, 4 tasks 276 against 333 / 333, 6 tasks 382 against 479 / 334: the bucket kernel from 5 there. At 8 rows
# the fragment kernel adds 45 us a task (142 / 233 / 414 at 2 / 4 / 8 tasks) against the bucket kernel's flat 333:
# ~323 at 6 tasks, ~368 at 7, so from 7 there (4 rows: 138 / 227 at 2 / 4, the same slope).
# Above 16 rows on sm_90 the wgmma bucket kernel serves (triton_bucket_wgmma.py, thirty-first session), flat at
# 75-77 us on 4096x4096 at 64 rows where the one-task path costs 17.6 + ~9.4 us a task. Serving steps (H200, gpr 1,
# results/serving_threshold*_thirtysecond.log), one-task path against the bucket kernel: 32 rows 20.65 / 21.58 ms at
# 6 tasks, 23.62 / 21.57 at 7; 64 rows 27.27 / 31.12 at 6, 31.26 / 31.17 at 7, 35.09 / 31.21 at 8: from 7 there.
# At 9-16 rows on sm_90 the WIDE form of that kernel (thirty-second and thirty-third sessions, ~260 us a layer's four
# projections at 16 rows) serves from 4 tasks: serving steps at 16 rows (H200, gpr 1,
# results/serving_threshold_thirtyfourth.log), few-task class against the bucket kernel, 8.28 / 9.26 ms at 3 tasks,
# 9.90 / 9.26 at 4.
# Up to 8 rows on sm_90 the 8-token WIDE choices (thirty-third session) moved the crossing from 7 tasks to 4: serving
# steps at batch 8 (H200, results/rows8_threshold_thirtyseventh.log, rows_tiny_threshold_thirtyseventh.log), few-task
# class against the bucket kernel, gpr 1: 6.70 / 7.28 ms at 3 tasks, 8.32 / 7.24 at 4, 9.91 / 7.28 at 5, 11.42 / 7.24
# at 6; gpr 4: 10.72 / 7.66 at 5. Up to 4 rows the bucket kernel takes the 8-token key's WIDE choice (_bucket_m_key;
# the 4-token key's older choice took 11.2 ms at batch 4 against 7.9 through the few-task class at 4 tasks), so the
# same threshold holds there.
# At 17-32 rows on sm_90 the WIDE form's 16-token tiles (thirty-ninth session: 32 tokens 1.13-1.45x faster) moved
# the crossing from 7 tasks to 5: serving steps at batch 32 (H200, gpr 1, results/threshold_above16_fortieth.log),
# one-task path against the bucket kernel, 14.32 / 16.30 ms at 4 tasks, 17.30 / 16.32 at 5, 20.29 / 16.29 at 6. At
# 64 rows the one-task path still wins at 6 (26.69 / 27.62 ms), so 33-64 rows keep 7.
FEW_TASKS = os.environ.get("SKETCHSERVE_FEW_TASKS", "1") != "0"
PAIRS_DECODE = HAVE_PAIRS and os.environ.get("SKETCHSERVE_PAIRS_DECODE", "1") != "0"
BUCKET_MIN_TASKS_SMALL_M, BUCKET_MIN_TASKS_LARGE_M, BUCKET_SMALL_M = 5, 13, 16
BUCKET_MIN_TASKS_LARGE_M_SM90 = 7  # 33-64 rows (and above), the wgmma bucket kernel
BUCKET_MIN_TASKS_MID_M_SM90, BUCKET_MID_M = 5, 32  # 17-32 rows, the WIDE bucket kernel's 16-token tiles
BUCKET_MIN_TASKS_SMALL_M_SM90 = 4  # 9-16 rows with the few-task class, the WIDE bucket kernel
BUCKET_MIN_TASKS_TINY_M, BUCKET_TINY_M = 7, 8  # with the few-task class, up to 8 rows
BUCKET_MIN_TASKS_TINY_M_SM90 = 4  # up to 8 rows with the few-task class, the WIDE bucket kernel (_bucket_m_key)
BUCKET_MIN_TASKS_SMALL_M_ALONE = 4  # M <= 16 without the few-task class: against gather
BUCKET_MIN_TASKS: int | None = None
if "SKETCHSERVE_BUCKET_MIN_TASKS" in os.environ:
    BUCKET_MIN_TASKS = int(os.environ["SKETCHSERVE_BUCKET_MIN_TASKS"])
    if BUCKET_MIN_TASKS < 1:
        raise ValueError(f"SKETCHSERVE_BUCKET_MIN_TASKS must be >= 1, got {BUCKET_MIN_TASKS}")


@functools.cache
def wgmma_bucket_gpu() -> bool:
    """Whether this process's GPU runs the wgmma bucket kernel (sm_90 and Gluon): the thresholds from 9 rows, which
    the op and the runner's graph classes (task_classes) both read, so one value per process."""
    return HAVE_GLUON and torch.cuda.is_available() and torch.cuda.get_device_capability() == (9, 0)


def bucket_min_tasks(m: int) -> int:
    """Distinct slots from which auto mode gives a decode batch of m rows to the bucket-sum kernel."""
    if BUCKET_MIN_TASKS is not None:
        return BUCKET_MIN_TASKS
    if m > BUCKET_SMALL_M:
        if not wgmma_bucket_gpu():
            return BUCKET_MIN_TASKS_LARGE_M
        return BUCKET_MIN_TASKS_MID_M_SM90 if m <= BUCKET_MID_M else BUCKET_MIN_TASKS_LARGE_M_SM90
    if not FEW_TASKS:
        return BUCKET_MIN_TASKS_SMALL_M_ALONE
    if m <= BUCKET_TINY_M:
        return BUCKET_MIN_TASKS_TINY_M_SM90 if wgmma_bucket_gpu() else BUCKET_MIN_TASKS_TINY_M
    return BUCKET_MIN_TASKS_SMALL_M_SM90 if wgmma_bucket_gpu() else BUCKET_MIN_TASKS_SMALL_M


def task_classes(m: int) -> tuple[int, ...]:
    """The distinct-task counts (ascending) at which auto mode changes the decode kernel of a batch of m rows: 2
    (the few-task class, where it applies) and bucket_min_tasks(m); none when SKETCHSERVE_DECODE_KERNEL fixes the
    kernel. A CUDA graph captured for one class never serves a count of another (server/runner.py)."""
    if DECODE_KERNEL != "auto":
        return ()
    bucket = bucket_min_tasks(m)
    return (2, bucket) if FEW_TASKS and m <= FEW_MAX_M and bucket > 2 else (bucket,)


DECODE_KERNELS = ("auto", "gather", "bucket")
DECODE_KERNEL = os.environ.get("SKETCHSERVE_DECODE_KERNEL", "auto")
if DECODE_KERNEL not in DECODE_KERNELS:
    raise ValueError(f"SKETCHSERVE_DECODE_KERNEL must be one of {DECODE_KERNELS}, got {DECODE_KERNEL!r}")


def _shape_key(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int, m_bucket: int):
    return (m_bucket, codes_packed.shape[0], x.shape[1], bits, lut_pool.shape[2], x.dtype, lut_pool.dtype)


def _m_bucket(m: int) -> int:
    return 1 << max(0, (m - 1).bit_length())


WIDE_MIN_TOKENS = 8  # the WIDE bucket kernel's smallest token tile


def _bucket_m_key(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int) -> int:
    """The bucket tuning key's token count for x's rows: their power of two, at least WIDE_MIN_TOKENS where the WIDE
    bucket kernel runs (sm_90), whose 8-token tile serves 1-8 tokens alike. The 1-, 2- and 4-token keys' choices are
    cols-layout ones tuned before that kernel existed: serving batch 4 over 4 tasks took 11.2 ms a step through the
    4-token key's choice against 7.2 at batch 8 through the 8-token key's (H200, thirty-seventh session)."""
    m_key = _m_bucket(x.shape[0])
    if m_key < WIDE_MIN_TOKENS and bucket_wgmma_ok(x, codes_packed, lut_pool, bits, 32):
        return WIDE_MIN_TOKENS
    return m_key


def lut_linear_forward(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    segments: SlotSegments | None = None,
    out: torch.Tensor | None = None,
    num_tasks: int | None = None,
    decode_kernel: str | None = None,
    int8_base: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    int8_digits: tuple[torch.Tensor, ...] | None = None,
    host_slots: torch.Tensor | None = None,
) -> torch.Tensor:
    """y [M, N] = x @ W_hat(lut_pool[slot_of_token[m]]).T, accumulated in fp32, returned in x.dtype.

    out: optional [M, N] buffer in x.dtype with unit column stride (static buffers for CUDA graphs).
    num_tasks: distinct slots among the tokens, when the caller knows it on the host (decode choice).
    decode_kernel: "gather" | "bucket" | "auto", overriding DECODE_KERNEL (M <= DECODE_MAX_M only).
    int8_base: the int8 activation mode's base tables (the module docstring), or None (exact).
    int8_digits: x's digits, made ahead (int8_digits(x, sums=True) or a producer's), for a call that int8_takes.
    host_slots: slot_of_token as the caller read it back to the host (lut_linear's range check), or None: a
    prefill without segments then plans per run of equal slots from it (_host_planned) instead of the fused kernel.
    """
    check_inputs(x, codes_packed, lut_pool)
    m, k = x.shape
    n = codes_packed.shape[0]
    if out is None:
        y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    elif out.shape != (m, n) or out.dtype != x.dtype or (n > 1 and out.stride(1) != 1):
        raise ValueError(f"out must be [{m}, {n}] {x.dtype} with unit column stride")
    else:
        y = out
    if m == 0:
        return y
    slots = slot_of_token
    if slots.dtype != torch.int32 or not slots.is_contiguous():
        # A kernel writes the converted slots just before the launch: no PDL for it (triton_common.pdl_scope).
        with pdl_scope(False):
            return _forward(x, codes_packed, lut_pool, slots.to(torch.int32).contiguous(), bits, segments, y,
                            num_tasks, decode_kernel, int8_base, int8_digits, host_slots)  # fmt: skip
    return _forward(x, codes_packed, lut_pool, slots, bits, segments, y, num_tasks, decode_kernel, int8_base,
                    int8_digits, host_slots)  # fmt: skip


def _forward(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slots: torch.Tensor,
    bits: int,
    segments: SlotSegments | None,
    y: torch.Tensor,
    num_tasks: int | None,
    decode_kernel: str | None,
    int8_base: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    int8_digits: tuple[torch.Tensor, ...] | None = None,
    host_slots: torch.Tensor | None = None,
) -> torch.Tensor:
    """lut_linear_forward on int32 contiguous slots [M] (M > 0), into y."""
    m, k = x.shape
    n = codes_packed.shape[0]
    if m <= DECODE_MAX_M:
        sms = autotune.num_sms(x.device)
        decode_class = _decode_class(decode_kernel or DECODE_KERNEL, x, segments, num_tasks)
        if int8_base is not None and (config := _int8_config(x, codes_packed, lut_pool, bits, decode_class)):
            launch_bucket_int8(x, codes_packed, lut_pool, slots, y, config, int8_digits, base=int8_base)
            return y
        if decode_class == "bucket":
            m_key = _bucket_m_key(x, codes_packed, lut_pool, bits)
            config = autotune.pick_config(
                "bucket",
                _shape_key(x, codes_packed, lut_pool, bits, m_key),
                lambda: bucket_candidates(m, n, k, bits, sms)
                + bucket_wgmma_configs_for(x, codes_packed, lut_pool, bits, m_key),
                lambda c: launch_bucket(x, codes_packed, lut_pool, slots, bits, y, c),
                lambda: default_bucket_config(m, n, k, bits, sms),
                x.device,
                output=y,
            )
            launch_bucket(x, codes_packed, lut_pool, slots, bits, y, config)
            return y
        gs = triton.cdiv(k, lut_pool.shape[2])
        if decode_class == "pairs" and _launch_pairs(x, codes_packed, lut_pool, slots, bits, y, sms, gs):
            return y
        few = decode_class == "few" and prmt_ok(codes_packed, lut_pool, bits)
        if few and mma_ok(x, codes_packed, lut_pool, bits, 2):
            config = autotune.pick_config(
                "decode_few",
                _shape_key(x, codes_packed, lut_pool, bits, _m_bucket(m)),
                lambda: few_task_candidates(n, k, sms, gs),
                lambda c: launch_decode(x, codes_packed, lut_pool, slots, bits, y, c),
                lambda: default_few_task_config(k, gs),
                x.device,
                output=y,
            )
            if not mma_ok(x, codes_packed, lut_pool, bits, config["WPL"]):
                config = default_few_task_config(k, gs)  # chosen where wider chunks tile K; here 64 columns do
            launch_decode(x, codes_packed, lut_pool, slots, bits, y, config)
            return y
        launch_decode(x, codes_packed, lut_pool, slots, bits, y, _one_config(x, codes_packed, lut_pool, slots, bits,
                                                                             y, sms, gs))  # fmt: skip
        return y

    gs = triton.cdiv(k, lut_pool.shape[2])
    if segments is None and host_slots is not None and HOST_PLAN:
        if _host_planned(x, codes_packed, lut_pool, host_slots, slots, bits, y, gs):
            return y
    if segments is not None:
        if segments.host_bounds is not None and _planned_segments(
            x, codes_packed, lut_pool, segments.host_bounds, segments.starts, slots, bits, y, gs
        ):
            return y
        perm, slot_sorted = None, slots  # tokens already contiguous per slot
    else:
        perm, slot_sorted = sort_tokens_by_slot(slots)
    config = autotune.pick_config(
        "prefill",
        _shape_key(x, codes_packed, lut_pool, bits, min(_m_bucket(m), 4096)),
        lambda: prefill_candidates(m, n, k, gs if prefill_prmt_ok(codes_packed, lut_pool, bits, gs) else None),
        lambda c: launch_prefill(x, codes_packed, lut_pool, slot_sorted, perm, bits, y, c),
        lambda: default_prefill_config(m, n, k),
        x.device,
        output=y,
    )
    launch_prefill(x, codes_packed, lut_pool, slot_sorted, perm, bits, y, config)
    return y


def _one_config(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, slots: torch.Tensor, bits: int,
                y: torch.Tensor, sms: int, gs: int) -> dict:  # fmt: skip
    """The gather class's tuned choice (launch_decode's config) for this call, or the default where the choice does
    not suit this call's x."""
    m, k = x.shape
    n = codes_packed.shape[0]
    config = autotune.pick_config(
        "decode",
        _shape_key(x, codes_packed, lut_pool, bits, _m_bucket(m)),
        lambda: decode_candidates(
            m, n, k, sms, prmt_ok(codes_packed, lut_pool, bits), gs, half2_ok(x, lut_pool),
            mma_ok(x, codes_packed, lut_pool, bits, 2),
        ),
        lambda c: launch_decode(x, codes_packed, lut_pool, slots, bits, y, c),
        lambda: default_decode_config(m, n, k, sms),
        x.device,
        output=y,
    )
    if config["MODE"] == MODE_MMA and not mma_ok(x, codes_packed, lut_pool, bits, config["WPL"]):
        return default_decode_config(m, n, k, sms)  # chosen for aligned x; this call's x is not
    if config["MODE"] == MODE_PRMT and m > 1 and not tokens_ok(x, codes_packed, lut_pool, bits):
        return default_decode_config(m, n, k, sms)  # chosen with fp16 products, now off, or for aligned x
    return config


def _launch_pairs(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, slots: torch.Tensor,
                  bits: int, y: torch.Tensor, sms: int, gs: int) -> bool:  # fmt: skip
    """The pair-table kernel's tuned choice for a one-task batch, launched where the kernel takes the call and, at
    this shape and row bucket, ran faster than the gather class's choice (the two choices timed against each other
    once, "decode_family": on the H100 the pair kernel wins at 1 and 16 tokens on 4096x4096 and at 16 on
    11008x4096, and loses at one token on the 7B MLP shapes, fifty-fourth session). Else False: the gather class's
    choice serves it."""
    n, k = codes_packed.shape[0], x.shape[1]
    gpr = lut_pool.shape[2]
    if not pairs_ok(x, codes_packed, lut_pool, bits, gpr, 1):
        return False
    key = _shape_key(x, codes_packed, lut_pool, bits, _m_bucket(x.shape[0]))
    config = autotune.pick_config(
        "decode_pairs",
        key,
        lambda: pairs_candidates(n, k, gs, sms),
        lambda c: launch_decode_pairs(x, codes_packed, lut_pool, slots, bits, y, c),
        lambda: default_pairs_config(n, k, gs, sms),
        x.device,
        output=y,
    )
    if not pairs_ok(x, codes_packed, lut_pool, bits, gpr, config["WPL"], config.get("WK", 1)):
        return False

    def launch_family(family: dict) -> None:
        if family["KERNEL"] == "pairs":
            launch_decode_pairs(x, codes_packed, lut_pool, slots, bits, y, config)
        else:
            launch_decode(x, codes_packed, lut_pool, slots, bits, y, _one_config(x, codes_packed, lut_pool, slots,
                                                                                 bits, y, sms, gs))  # fmt: skip

    # both timed (pick_config times only its candidates; the default is the reference, its choice where all fail)
    family = autotune.pick_config("decode_family", key, lambda: [{"KERNEL": "one"}, {"KERNEL": "pairs"}],
                                  launch_family, lambda: {"KERNEL": "one"}, x.device, output=y)  # fmt: skip
    if family["KERNEL"] != "pairs":
        return False
    launch_decode_pairs(x, codes_packed, lut_pool, slots, bits, y, config)
    return True


def _int8_config(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int,
                 decode_class: str) -> dict | None:  # fmt: skip
    """The int8 kernel's config for a call of this decode class in the int8 activation mode, or None: it stays
    exact (the int8 kernel takes bucket-class calls of 9-16 rows, 4-bit codes, on sm_90, where a BLOCK_K tiles the
    LUT groups)."""
    m, k = x.shape
    if decode_class != "bucket" or not INT8_MIN_M <= m <= INT8_MAX_M or bits != 4:
        return None
    config = int8_base_corr_config(codes_packed.shape[0], k, lut_pool.shape[2])
    if config is None or not bucket_wgmma_ok(x, codes_packed, lut_pool, bits, config["BLOCK_K"]):
        return None
    return config


def int8_takes(x: torch.Tensor, codes_packed: torch.Tensor, lut_pool: torch.Tensor, bits: int,
               segments: SlotSegments | None = None, num_tasks: int | None = None) -> bool:  # fmt: skip
    """Whether lut_linear_forward(x, ..., int8_base=...) takes the int8 kernel (x: the call's activations, or a
    tensor of their shape, type and device with their alignment): what a producer of x asks before writing its
    digits."""
    if not x.is_cuda or x.shape[0] > DECODE_MAX_M:
        return False
    decode_class = _decode_class(DECODE_KERNEL, x, segments, num_tasks)
    return _int8_config(x, codes_packed, lut_pool, bits, decode_class) is not None


def _decode_class(choice: str, x: torch.Tensor, segments: SlotSegments | None, num_tasks: int | None) -> str:
    """Which decode kernel class a batch takes (see the module docstring): "bucket", "few" (the fragment kernel's
    few-task choice, where the call suits it), "pairs" (the pair-table kernel's choice for one known task, unless
    SKETCHSERVE_PAIRS_DECODE=0, where the call suits it) or "one" (the gather class's choice); no device read-back."""
    if choice == "bucket":
        return "bucket"
    if choice == "gather":
        return "one"
    if choice != "auto":
        raise ValueError(f"decode kernel must be one of {DECODE_KERNELS}, got {choice!r}")
    if num_tasks is None and segments is not None and segments.host_bounds is not None:
        num_tasks = len({s for s, a, b in segments.host_bounds if b > a})
    if num_tasks is None:
        return "one"
    m = x.shape[0]
    if num_tasks >= bucket_min_tasks(m):
        # fp32 x: the one-hot MMA would round x to tf32 (or run at fp32 MMA speed)
        return "one" if x.dtype == torch.float32 else "bucket"
    if num_tasks == 1 and PAIRS_DECODE and m <= PAIRS_MAX_M:
        return "pairs"
    return "few" if FEW_TASKS and m <= FEW_MAX_M and num_tasks >= 2 else "one"


def dense_pays(long_lengths: list[int]) -> bool:
    """Whether segments of these lengths (each >= DENSE_MIN_TOKENS) take the dense path (a dequantized weight per
    segment, then cuBLAS) rather than the register-LUT kernel's segment tiles (~1.6x cuBLAS's time, flat in the
    segment count: it reads no weight of its own). H200, 4-bit, both gprs, the server's four projection shapes
    (benchmarks/prefill_tasks.py, NOTES.md twenty-seventh session): the dense path adds ~17 us a segment on 4096x4096
    (~40-75 on the larger shapes) to cuBLAS's time, so it wins with one or two segments of any length (1 x 96 to
    1 x 2048, 2 x 512, 2 x 1024) and with longer ones (4 x 512 on most shapes), the fused kernel from 4 segments of
    up to 256 tokens (8 x 256: 169-909 us against 228-1,152 dense)."""
    if not long_lengths:
        return False
    return len(long_lengths) <= DENSE_MAX_SEGMENTS or sum(long_lengths) >= DENSE_MIN_MEAN_TOKENS * len(long_lengths)


def _long_runs_go_dense(long_lengths: list[int], tiled: bool) -> bool:
    """Whether _planned_segments gives runs of these lengths (each >= DENSE_MIN_TOKENS) the dense path: where it
    pays, or where no segment tiles take them (tiled: the register-LUT kernel's segment tiles apply)."""
    return bool(long_lengths) and (dense_pays(long_lengths) or not tiled)


def _planned_segments(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    host_bounds: tuple[tuple[int, int, int], ...],
    starts: torch.Tensor | None,
    slots: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    group_size: int,
) -> bool:
    """Prefill over segments whose bounds the host knows (host_bounds: SlotSegments.host_bounds' (slot, start, end);
    no device read-back). starts: their [G + 1] starts on the device (SlotSegments.starts), or None to copy them
    there only if the segment tiles run (they alone read them):

    - segments of >= DENSE_MIN_TOKENS tokens: the dense path where dense_pays, else the register-LUT kernel's
      segment tiles (prefill_prmt_ok layers; no tile holds two slots);
    - each run of consecutive shorter ones (a step's decode tokens, short prompt chunks) as one call of the op on
      those rows (decode kernels up to DECODE_MAX_M rows, the sorted prefill kernel above);
    - with no long segment, more than DECODE_MAX_M tokens in all and the register-LUT kernel: its segment tiles
      over every segment (a burst of short prompts over several tasks).

    Returns False (nothing written) where none of these applies: the caller's fused kernel takes the tokens in
    order.
    """
    bounds = [(s, a, b) for s, a, b in host_bounds if b > a]
    lengths = [b - a for _, a, b in host_bounds]  # empty ones too: they pair with starts
    long_bounds = [t for t in bounds if t[2] - t[1] >= DENSE_MIN_TOKENS]
    long = [b - a for _, a, b in long_bounds]
    tiled = (
        prefill_prmt_ok(codes_packed, lut_pool, bits, group_size)
        and len(lengths) <= MAX_TILED_SEGMENTS
        and (starts is None or starts.shape[0] == len(lengths) + 1)
    )
    if _long_runs_go_dense(long, tiled):
        launch_dense_segments(x, codes_packed, lut_pool, long_bounds, bits, y, slots)
    elif tiled and (long or x.shape[0] > DECODE_MAX_M):
        if starts is None:  # the copy SlotSegments makes (one, not waiting for the stream on CUDA)
            starts = SlotSegments.from_counts([s for s, _, _ in host_bounds], lengths, x.device).starts
        tiles = SegmentTiles(starts, tuple(lengths), DENSE_MIN_TOKENS if long else 1)
        _launch_tiles(x, codes_packed, lut_pool, slots, bits, y, tiles, group_size)
        if not long:
            return True
    else:
        return False
    for a, b, tasks in _short_runs(bounds):
        lut_linear_forward(x[a:b], codes_packed, lut_pool, slots[a:b], bits, out=y[a:b], num_tasks=tasks)
    return True


def _host_planned(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    host_slots: torch.Tensor,
    slots: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    group_size: int,
) -> bool:
    """Prefill over per-token slots that the caller has on the host (host_slots [M], CPU; slots [M] int32, the same
    on x's device) where each slot's tokens are one run: the runs' bounds take _planned_segments, as the engine's
    segments do. Returns False, with nothing written, where a slot has two runs (tasks' tokens interleaved:
    gathering them into slot order and back cost more than the plan saved on the H100, seventy-second session),
    where there are more runs than the segment tiles take, where the runs are long on average and their long ones
    would take the segment tiles, not the dense path (the fused kernel is then within the plan's host work of the
    tiles: HOST_PLAN_FUSED_MEAN_RUN), or where the plan does not apply: the fused kernel takes those tokens."""
    slots_h = host_slots.numpy()  # numpy: ~10x less host time than torch's CPU ops at 2,048 tokens
    cuts = numpy.flatnonzero(slots_h[1:] != slots_h[:-1]) + 1  # where each run after the first starts
    if cuts.size >= MAX_TILED_SEGMENTS:  # interleaved tokens, or more runs than the segment tiles take
        return False
    starts = numpy.concatenate(([0], cuts))  # run i: tokens starts[i]:ends[i], all of slot run_slots[i]
    run_slots = slots_h[starts]
    if numpy.unique(run_slots).size < run_slots.size:  # a slot in two runs: interleaved, checked first (cheapest)
        return False
    ends = numpy.append(cuts, slots_h.shape[0])
    lengths = ends - starts
    long = lengths[lengths >= DENSE_MIN_TOKENS].tolist()
    tiled = prefill_prmt_ok(codes_packed, lut_pool, bits, group_size)  # the runs are within MAX_TILED_SEGMENTS here
    tiles_take_long = bool(long) and not _long_runs_go_dense(long, tiled)
    if tiles_take_long and slots_h.shape[0] >= HOST_PLAN_FUSED_MEAN_RUN * lengths.size:
        return False  # the plan's segment tiles over long runs, which the fused kernel takes nearly as fast
    bounds = tuple(zip(run_slots.tolist(), starts.tolist(), ends.tolist(), strict=True))
    return _planned_segments(x, codes_packed, lut_pool, bounds, None, slots, bits, y, group_size)


def _launch_tiles(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slots: torch.Tensor,
    bits: int,
    y: torch.Tensor,
    tiles: SegmentTiles,
    group_size: int,
) -> None:
    """Segment tiles: the register-LUT prefill kernel, or on sm_90 the wgmma one (triton_prefill_wgmma.py; configs
    with WGMMA set), the config tuned per token bucket of the tiled tokens and class of their mean length."""

    def launch(config: dict) -> None:
        if config.get("WGMMA"):
            launch_prefill_wgmma(x, codes_packed, lut_pool, slots, bits, y, config, tiles)
        else:
            launch_prefill_prmt(x, codes_packed, lut_pool, slots, None, bits, y, config, tiles=tiles)

    def candidates() -> list[dict]:
        wgmma_ok = wgmma_prefill_ok(x, codes_packed, lut_pool, bits, group_size)
        wgmma = prefill_wgmma_candidates(group_size) if wgmma_ok else []
        return prefill_prmt_candidates(group_size) + wgmma

    tiled = tiles.tiled()
    # Per token bucket and class of the segments' mean length (<= 64 tokens, or more): 4 x 127 and 8 x 64 share a
    # token bucket but not their best tiles (H200: a 128-token wgmma tile tuned on the first cost the second 174 us
    # where 64-token tiles take 69; NOTES.md twenty-eighth session). Two classes, both of which the server's start-up
    # tuning calls (server/runner.py _tuning_calls: 32-token runs and longer ones per prefill size).
    seg_class = SHORT_SEGMENTS if sum(tiled) <= SHORT_SEGMENTS * len(tiled) else MAX_SEGMENT_CLASS
    config = autotune.pick_config(
        "prefill_tiles",
        _shape_key(x, codes_packed, lut_pool, bits, min(_m_bucket(sum(tiled)), 4096)) + (seg_class,),
        candidates,
        launch,
        lambda: default_prefill_prmt_config(group_size),
        x.device,
        output=y,
    )
    launch(config)


def _short_runs(bounds: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(start, end, distinct slots) of each maximal run of consecutive segments shorter than DENSE_MIN_TOKENS."""
    runs: list[tuple[int, int, set[int]]] = []
    for slot, a, b in bounds:
        if b - a >= DENSE_MIN_TOKENS:
            continue
        if runs and runs[-1][1] == a:
            runs[-1] = (runs[-1][0], b, runs[-1][2] | {slot})
        else:
            runs.append((a, b, {slot}))
    return [(a, b, len(slots)) for a, b, slots in runs]


def lut_linear_backward(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    need_grad_x: bool = True,
    need_grad_lut: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients w.r.t. x ([M, K], x.dtype) and lut_pool (lut_pool's shape and dtype; fp32 accumulation)."""
    check_inputs(x, codes_packed, lut_pool)
    check_inputs(grad_y, codes_packed, lut_pool, name="grad_y")
    m, k = x.shape
    grad_x = grad_lut = None
    if need_grad_x:
        grad_x = torch.empty(m, k, dtype=x.dtype, device=x.device)
    if need_grad_lut:
        grad_lut = torch.zeros(lut_pool.shape, dtype=torch.float32, device=x.device)
    if m == 0 or not (need_grad_x or need_grad_lut):
        if grad_x is not None:
            grad_x.zero_()
        return grad_x, None if grad_lut is None else grad_lut.to(lut_pool.dtype)

    perm, slot_sorted = sort_tokens_by_slot(slot_of_token)
    grad_y = grad_y.to(x.dtype)
    if grad_x is not None:
        launch_grad_x(grad_y, codes_packed, lut_pool, slot_sorted, perm, bits, grad_x, default_grad_x_config())
    if grad_lut is not None:
        segments = segments_of_sorted(slot_sorted)
        launch_grad_lut(grad_y, x, codes_packed, perm, segments, bits, grad_lut, default_grad_lut_config())
        grad_lut = grad_lut if lut_pool.dtype == torch.float32 else grad_lut.to(lut_pool.dtype)
    return grad_x, grad_lut
