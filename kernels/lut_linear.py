"""The public multi-LUT linear op: argument checks, device dispatch and autograd.

    y = lut_linear(x, codes_packed, lut_pool, slot_of_token, bits, gpr)

    x [M, K] fp16/bf16/fp32, codes_packed [N, packed_width(K, bits)] uint8,
    lut_pool [S, N, gpr, 2**bits], slot_of_token [M] int32 (or SlotSegments) -> y [M, N] in x's dtype.

On CUDA it runs the Triton kernels (kernels/triton_*.py); elsewhere the torch reference.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from kernels import reference
from kernels.packing import SUPPORTED_BITS, packed_width

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32)


@dataclass(frozen=True)
class SlotSegments:
    """Tokens already grouped by slot: tokens starts[i]:starts[i+1] all read slot slots[i].

    slots  [G] int32, starts [G + 1] int32 with starts[0] == 0 and starts[G] == M.
    host_bounds: the same as (slot, start, end) Python ints when known on the host (from_counts), so
    the Triton prefill can plan per segment without reading the device tensors back (no sync).
    per_token: the [M] per-token form when the caller has it already (one model step calls the op per layer:
    it is then not rebuilt on the device for every call).
    """

    slots: torch.Tensor
    starts: torch.Tensor
    host_bounds: tuple[tuple[int, int, int], ...] | None = None
    per_token: torch.Tensor | None = None

    @staticmethod
    def from_counts(
        slots: list[int], counts: list[int], device: torch.device | str, per_token: torch.Tensor | None = None
    ) -> SlotSegments:
        slots = [int(s) for s in slots]
        starts = [0, *itertools.accumulate(counts)]
        if per_token is not None and per_token.shape != (starts[-1],):
            raise ValueError(f"per_token must be [{starts[-1]}], got {tuple(per_token.shape)}")
        # One copy to the device: starts, then the slots from a 16-byte boundary (the kernels' pointers are
        # specialized on it); on CUDA from pinned memory, so that the host does not wait for the stream to drain (a
        # blocking copy does: the fine-tune's forward makes segments for every projection).
        at = -(-len(starts) // 4) * 4
        cuda = torch.device(device).type == "cuda"
        host = torch.tensor(starts + [0] * (at - len(starts)) + slots, dtype=torch.int32, pin_memory=cuda)
        both = host.to(device, non_blocking=cuda)
        bounds = tuple(zip(slots, starts[:-1], starts[1:], strict=True))
        return SlotSegments(both[at:], both[: len(starts)], bounds, per_token)

    def slot_of_token(self) -> torch.Tensor:
        """[M] int32: the per-token form."""
        if self.per_token is not None:
            return self.per_token
        counts = (self.starts[1:] - self.starts[:-1]).to(torch.int64)
        return torch.repeat_interleave(self.slots, counts)


def check_lut_linear_args(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    gpr: int,
    check_slot_range: bool = True,
) -> torch.Tensor | None:
    """Raise ValueError with a clear message on any shape, dtype, device or range mismatch.

    Returns the slots as read back to the host for the range check (one device read; the CUDA prefill plans its
    segments from them, triton_ops), or None where the range is not checked.
    """
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {bits}")
    if x.dim() != 2:
        raise ValueError(f"x must be [M, K], got shape {tuple(x.shape)}")
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"x dtype must be one of {FLOAT_DTYPES}, got {x.dtype}")
    m, k = x.shape
    if codes_packed.dtype != torch.uint8 or codes_packed.dim() != 2:
        raise ValueError("codes_packed must be a 2-D uint8 tensor [N, packed K]")
    n = codes_packed.shape[0]
    if codes_packed.shape[1] != packed_width(k, bits):
        raise ValueError(
            f"codes_packed is [{n}, {codes_packed.shape[1]}] but K={k} at {bits} bits packs to "
            f"[{n}, {packed_width(k, bits)}]"
        )
    if lut_pool.dim() != 4 or tuple(lut_pool.shape[1:]) != (n, gpr, 2**bits):
        raise ValueError(
            f"lut_pool must be [S, {n}, {gpr}, {2**bits}], got {tuple(lut_pool.shape)}"
        )
    if lut_pool.dtype not in FLOAT_DTYPES:
        raise ValueError(f"lut_pool dtype must be one of {FLOAT_DTYPES}, got {lut_pool.dtype}")
    if gpr < 1 or gpr > k:
        raise ValueError(f"gpr must be in [1, K={k}], got {gpr}")
    if slot_of_token.dim() != 1 or slot_of_token.shape[0] != m:
        raise ValueError(f"slot_of_token must be [M={m}], got {tuple(slot_of_token.shape)}")
    if slot_of_token.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"slot_of_token must be int32 or int64, got {slot_of_token.dtype}")
    devices = {t.device for t in (x, codes_packed, lut_pool, slot_of_token)}
    if len(devices) != 1:
        raise ValueError(f"all tensors must be on one device, got {sorted(map(str, devices))}")
    if not check_slot_range or m == 0:
        return None
    host_slots = slot_of_token.cpu()
    lo, hi = int(host_slots.min()), int(host_slots.max())
    if lo < 0 or hi >= lut_pool.shape[0]:
        raise ValueError(f"slot_of_token has slots in [{lo}, {hi}] but the pool has {lut_pool.shape[0]}")
    return host_slots


def _per_token_and_segments(slot_of_token: torch.Tensor | SlotSegments) -> tuple[torch.Tensor, SlotSegments | None]:
    """The [M] per-token slots, and the SlotSegments when the caller gave them (else None)."""
    if isinstance(slot_of_token, SlotSegments):
        return slot_of_token.slot_of_token(), slot_of_token
    return slot_of_token, None


def _use_triton(x: torch.Tensor) -> bool:
    return x.is_cuda


def lut_linear(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor | SlotSegments,
    bits: int,
    gpr: int,
    check_slot_range: bool = True,
    num_tasks: int | None = None,
    int8_base: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    int8_digits: tuple[torch.Tensor, ...] | None = None,
) -> torch.Tensor:
    """Forward only (inference). y [M, N] = x @ W_hat(slot of each token).T.

    num_tasks: number of distinct slots among the tokens when known on the host (the scheduler builds
    the batch): lets the CUDA path pick the decode kernel without a device read-back (triton_ops).
    int8_base: the int8 activation mode's base tables (kernels/triton_ops.py); the CUDA path alone uses
    them, for the decode batches it names; everything else (the CPU included) stays exact. int8_digits: x's digits
    made by x's producer for such a call (triton_ops.int8_takes), else None.
    check_slot_range reads the slots back to the host once (a device sync: not under CUDA graph capture); on CUDA
    a prefill of per-token slots then plans per run of equal slots from that copy, as for SlotSegments.
    """
    per_token, segments = _per_token_and_segments(slot_of_token)
    host_slots = check_lut_linear_args(x, codes_packed, lut_pool, per_token, bits, gpr, check_slot_range)
    if _use_triton(x):
        from kernels import triton_ops

        return triton_ops.lut_linear_forward(x, codes_packed, lut_pool, per_token, bits, segments, num_tasks=num_tasks,
                                             int8_base=int8_base, int8_digits=int8_digits,
                                             host_slots=host_slots if segments is None else None)  # fmt: skip
    return reference.lut_linear_reference(x, codes_packed, lut_pool, per_token, bits)


def _backward(grad_y, x, codes_packed, lut_pool, slot_of_token, bits, need_x, need_lut, compute_dtype):
    if _use_triton(x):
        from kernels import triton_ops

        return triton_ops.lut_linear_backward(
            grad_y, x, codes_packed, lut_pool, slot_of_token, bits, need_x, need_lut
        )
    return reference.lut_linear_backward_reference(
        grad_y, x, codes_packed, lut_pool, slot_of_token, bits, need_x, need_lut, compute_dtype
    )


class LutLinearFunction(torch.autograd.Function):
    """Autograd for fine-tuning: gradients flow to x and to the LUT values, never to the codes.

    No dense weight is saved between forward and backward: only x, the codes and the LUT.
    """

    @staticmethod
    def forward(ctx, x, codes_packed, lut_pool, slot_of_token, bits, gpr, compute_dtype, segments=None,
                check_slot_range=True):  # fmt: skip
        host_slots = check_lut_linear_args(x, codes_packed, lut_pool, slot_of_token, bits, gpr, check_slot_range)
        ctx.bits, ctx.compute_dtype, ctx.x_dtype = bits, compute_dtype, x.dtype
        if _use_triton(x):
            from kernels import triton_ops

            ctx.save_for_backward(x, codes_packed, lut_pool, slot_of_token)
            return triton_ops.lut_linear_forward(x, codes_packed, lut_pool, slot_of_token, bits, segments,
                                                 host_slots=host_slots if segments is None else None)  # fmt: skip
        # the reference: x converted to the compute dtype once, and kept so (the backward's grad_w reads it too)
        x_c = x.to(compute_dtype)
        ctx.save_for_backward(x_c, codes_packed, lut_pool, slot_of_token)
        y = reference.lut_linear_reference(x_c, codes_packed, lut_pool, slot_of_token, bits, compute_dtype)
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_y):
        x, codes_packed, lut_pool, slot_of_token = ctx.saved_tensors
        need_x, _, need_lut = ctx.needs_input_grad[:3]
        grad_x, grad_lut = _backward(
            grad_y.contiguous(), x, codes_packed, lut_pool, slot_of_token, ctx.bits, need_x, need_lut,
            ctx.compute_dtype,
        )
        if grad_x is not None:
            grad_x = grad_x.to(ctx.x_dtype)  # (the reference's is in the dtype x was kept in)
        return grad_x, None, grad_lut, None, None, None, None, None, None


def lut_linear_autograd(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor | SlotSegments,
    bits: int,
    gpr: int,
    cpu_compute_dtype: torch.dtype = torch.float32,
    check_slot_range: bool = True,
) -> torch.Tensor:
    """Differentiable lut_linear (w.r.t. x and lut_pool). cpu_compute_dtype: off CUDA, the reference's matmul inputs
    (forward and backward; float32 sums of the LUT gradient): bfloat16 for CPU fine-tuning on bf16 matrix units
    (sketch/finetune.py), float32 (exact) otherwise. slot_of_token may be SlotSegments with host_bounds (as for
    lut_linear): the CUDA forward then plans per segment (a long one: one dequantized weight and cuBLAS) instead of
    sorting per-token slots into its fused kernel. check_slot_range=False skips the slots' range check, a device
    read on CUDA, for a caller whose slots are valid by construction (as lut_linear's)."""
    per_token, segments = _per_token_and_segments(slot_of_token)
    return LutLinearFunction.apply(x, codes_packed, lut_pool, per_token, bits, gpr, cpu_compute_dtype, segments,
                                   check_slot_range)  # fmt: skip
