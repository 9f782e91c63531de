"""Pure-torch reference of the multi-LUT linear op: the CPU path and the oracle of the Triton kernels.

Shapes (see kernels/packing.py for the layout):
    x             [M, K]                 activations, one row per token
    codes_packed  [N, packed_width(K)]   uint8, the frozen mapping of one layer
    lut_pool      [S, N, gpr, 2**bits]   one LUT set per pool slot
    slot_of_token [M]                    int, which slot each token reads
    y             [M, N]                 y[m] = x[m] @ W_hat(lut_pool[slot_of_token[m]]).T

The reference rebuilds one dense weight per distinct slot (in float32) and never keeps it.
"""

from __future__ import annotations

import torch

from kernels.packing import group_size, unpack_codes


def column_groups(k: int, gpr: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """[K] int64: the row-group of each input column."""
    return torch.arange(k, device=device) // group_size(k, gpr)


def lut_index(codes_packed: torch.Tensor, bits: int, k: int, gpr: int) -> torch.Tensor:
    """[N, K] int64: where each weight's value lies in its row's LUT laid flat, [gpr * 2**bits] (its group times
    2**bits plus its code): dequantize's gather index, and the bucket the LUT gradient's scatter-add sums into."""
    index = unpack_codes(codes_packed, bits, k)  # [N, K] int64, this call's own: offset in place
    if gpr > 1:
        index += column_groups(k, gpr, codes_packed.device)[None, :] * (2**bits)
    return index


def dequantize(codes_packed: torch.Tensor, lut: torch.Tensor, bits: int, k: int,
               index: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """codes_packed [N, *], lut [N, gpr, 2**bits] -> W_hat [N, K] in lut's dtype. index: the codes' lut_index, where
    the caller has it already."""
    n, gpr, _ = lut.shape
    if index is None:
        index = lut_index(codes_packed, bits, k, gpr)
    return torch.gather(lut.reshape(n, -1), 1, index)  # lut rows flat: [N, gpr * 2**bits]


def lut_linear_reference(
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    compute_dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """y [M, N] in x's dtype; accumulates in float32. compute_dtype: the matmul's inputs (bfloat16 for CPU
    fine-tuning on bf16 matrix units: kernels.lut_linear_autograd; the weight is gathered from the LUT in it, and
    the matmul's float32 sums come out rounded to bf16)."""
    m, k = x.shape
    n = lut_pool.shape[1]
    groups = _slot_rows(slot_of_token)
    if len(groups) == 1:  # every token reads one slot (fine-tuning): y as the matmul gives it, no buffer to fill
        w = dequantize(codes_packed, lut_pool[groups[0][0]].to(compute_dtype), bits, k)  # [N, K]
        return (x.to(compute_dtype) @ w.T).to(x.dtype)
    y = torch.empty(m, n, dtype=torch.float32, device=x.device)
    for slot, rows in groups:
        w = dequantize(codes_packed, lut_pool[slot].to(compute_dtype), bits, k)  # [N, K]
        y[rows] = (x[rows].to(compute_dtype) @ w.T).float()
    return y.to(x.dtype)


def _slot_rows(slot_of_token: torch.Tensor) -> list[tuple[int, torch.Tensor | slice]]:
    """(slot, its tokens' rows) for each distinct slot; all rows as a slice where one slot has them all (fine-tuning's
    case: indexing with every row would copy x, grad_y and the outputs once more per call)."""
    slots = slot_of_token.to(torch.int64)
    distinct = torch.unique(slots).tolist()
    if len(distinct) == 1:
        return [(distinct[0], slice(None))]
    return [(slot, (slots == slot).nonzero(as_tuple=True)[0]) for slot in distinct]


def lut_linear_backward_reference(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    codes_packed: torch.Tensor,
    lut_pool: torch.Tensor,
    slot_of_token: torch.Tensor,
    bits: int,
    need_grad_x: bool = True,
    need_grad_lut: bool = True,
    compute_dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of y = lut_linear(x, ...) w.r.t. x [M, K] and lut_pool [S, N, gpr, 2**bits].

    grad_lut[s, r, g, v] = sum over columns c of group g with codes[r, c] == v of
                           (grad_y[tokens of s].T @ x[tokens of s])[r, c]
    i.e. the weight gradient scattered-added into the bucket each position maps to. compute_dtype: the matmuls'
    inputs, as the forward's; the scatter-add sums in float32.
    """
    m, k = x.shape
    s_count, n, gpr, levels = lut_pool.shape
    groups = _slot_rows(slot_of_token)
    one = len(groups) == 1  # every token reads one slot (fine-tuning): grad_x as the matmul gives it
    grad_x = torch.zeros(m, k, dtype=torch.float32, device=x.device) if need_grad_x and not one else None
    grad_lut = torch.zeros(lut_pool.shape, dtype=torch.float32, device=x.device) if need_grad_lut else None
    bucket = lut_index(codes_packed, bits, k, gpr) if need_grad_lut else None  # [N, K]
    for slot, rows in groups:
        gy = grad_y[rows].to(compute_dtype)  # [m_s, N]
        if need_grad_x:
            w = dequantize(codes_packed, lut_pool[slot].to(compute_dtype), bits, k, bucket)
            if one:
                grad_x = gy @ w
            else:
                grad_x[rows] = (gy @ w).float()
        if grad_lut is not None:
            grad_w = gy.T @ x[rows].to(compute_dtype)  # [N, K], transient
            flat = torch.zeros(n, gpr * levels, dtype=torch.float32, device=x.device)
            flat.scatter_add_(1, bucket, grad_w.float())  # (summed in float32 whatever compute_dtype)
            grad_lut[slot] = flat.view(n, gpr, levels)
    return (
        grad_x.to(x.dtype) if grad_x is not None else None,
        grad_lut.to(lut_pool.dtype) if grad_lut is not None else None,
    )


def code_counts(codes_packed: torch.Tensor, bits: int, k: int, gpr: int, rows_at_once: int = 0) -> torch.Tensor:
    """How many weights of each row-group use each LUT entry: float32 [N, gpr, 2**bits], summing to K along its
    last two dimensions. So sum(counts * lut**2) is ||W_hat||**2. Rows a chunk at a time (rows_at_once; default
    ~64 MB of int64 indices), each position's bucket as lut_linear_backward_reference's grad_lut scatter finds it
    (lut_index)."""
    n, levels = codes_packed.shape[0], 2**bits
    counts = torch.zeros(n, gpr * levels, dtype=torch.float32, device=codes_packed.device)
    rows_at_once = rows_at_once or max(1, (8 << 20) // k)
    for start in range(0, n, rows_at_once):
        bucket = lut_index(codes_packed[start : start + rows_at_once], bits, k, gpr)  # [rows, K]
        counts[start : start + bucket.shape[0]].scatter_add_(1, bucket, torch.ones_like(bucket, dtype=torch.float32))
    return counts.view(n, gpr, levels)
