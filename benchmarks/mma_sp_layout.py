"""Which register layout mma.sp m16n8k32 (fp16, 2:4-sparse A) takes on this GPU: each hypothesis's fragments are
packed here, one warp runs the instruction, and D is compared with the dense product.

    python3 benchmarks/mma_sp_layout.py

A [16, 32] holds 2 non-zeros in every group of 4 columns; compressed, [16, 16] (column j of group j // 2). The A, B
and D fragments are mma.sync m16n8k16's (lane 4g + t: rows g and g + 8; compressed columns 2t, 2t + 1 and 2t + 8,
2t + 9; B rows 2t + 8i, 2t + 8i + 1 of token g in register i; D rows g / g + 8, columns 2t, 2t + 1). The metadata
(2 bits an index, 4 a group, idx0 < idx1) is what the hypotheses differ in:
    row_per_lane: lane 4g holds row g's 8 groups, lane 4g + 1 row g + 8's;
    half_per_lane: lane 4g holds groups 0-3 of row g (bits 0-15) and of row g + 8 (bits 16-31), lane 4g + 1 groups 4-7.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernels.triton_prefill_wgmma import HAVE_GLUON  # noqa: E402

SP_ASM = {
    "sp": "mma.sp.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, {$8, $9, $10, $11}, "
          "{$12, $13, $14, $15}, {$4, $5, $6, $7}, $16, 0x0;",
    "ordered": "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, "
               "{$8, $9, $10, $11}, {$12, $13, $14, $15}, {$4, $5, $6, $7}, $16, 0x0;",
}
CONSTR = ",".join(["=f"] * 4 + ["f"] * 4 + ["r"] * 12)

if HAVE_GLUON:
    from kernels.triton_prefill_wgmma import gl, gluon

    CONSTR_C = gl.constexpr(CONSTR)

    @gluon.jit
    def _mma_sp_kernel(a_ptr, b_ptr, e_ptr, d_ptr, ASM: gl.constexpr):
        """One warp: lane i's 4 A, 4 B and 4 metadata registers are row i of [32, 4] int32 arrays; D likewise."""
        lay: gl.constexpr = gl.BlockedLayout([1, 4], [32, 1], [1, 1], [1, 0])
        r = gl.arange(0, 32, layout=gl.SliceLayout(1, lay))
        c = gl.arange(0, 4, layout=gl.SliceLayout(0, lay))
        offs = r[:, None] * 4 + c[None, :]
        acc = gl.zeros([32, 4], gl.float32, lay)
        regs = [acc, gl.load(a_ptr + offs), gl.load(b_ptr + offs), gl.load(e_ptr + offs)]
        d = gl.inline_asm_elementwise(ASM, CONSTR_C, regs, dtype=gl.float32, is_pure=True, pack=4)
        gl.store(d_ptr + offs, d)


def pair(lo: torch.Tensor, hi: torch.Tensor) -> int:
    """Two fp16 values as one 32-bit register (lo in bits 0-15)."""
    lo16 = int(lo.view(torch.int16).item()) & 0xFFFF
    hi16 = int(hi.view(torch.int16).item()) & 0xFFFF
    v = lo16 | hi16 << 16
    return v - (1 << 32) if v >= 1 << 31 else v


def random_sparse(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A dense [16, 32], compressed values [16, 16], indices [16, 16]) with sorted distinct indices a group."""
    vals = torch.randn(16, 16, generator=gen).half()
    idx = torch.zeros(16, 16, dtype=torch.int64)
    dense = torch.zeros(16, 32, dtype=torch.float16)
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for r in range(16):
        for grp in range(8):
            i0, i1 = pairs[int(torch.randint(6, (1,), generator=gen))]
            idx[r, 2 * grp], idx[r, 2 * grp + 1] = i0, i1
            dense[r, 4 * grp + i0] = vals[r, 2 * grp]
            dense[r, 4 * grp + i1] = vals[r, 2 * grp + 1]
    return dense, vals, idx


def group_bits(idx: torch.Tensor, row: int, groups: range) -> int:
    """The metadata bits of `groups` of a row, 4 a group (idx0 in the low 2), the first group lowest."""
    v = 0
    for n, grp in enumerate(groups):
        v |= (int(idx[row, 2 * grp]) | int(idx[row, 2 * grp + 1]) << 2) << (4 * n)
    return v


def fragments(vals, idx, b, hypothesis: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a_regs = torch.zeros(32, 4, dtype=torch.int64)
    b_regs = torch.zeros(32, 4, dtype=torch.int64)
    e_regs = torch.zeros(32, 4, dtype=torch.int64)
    for lane in range(32):
        g, t = lane // 4, lane % 4
        for i, (row, col) in enumerate(((g, 2 * t), (g + 8, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t + 8))):
            a_regs[lane, i] = pair(vals[row, col], vals[row, col + 1])
        for i in range(4):
            b_regs[lane, i] = pair(b[2 * t + 8 * i, g], b[2 * t + 8 * i + 1, g])
        if hypothesis == "row_per_lane" and t < 2:
            e = group_bits(idx, g + 8 * t, range(8))
        elif hypothesis == "half_per_lane" and t < 2:
            e = group_bits(idx, g, range(4 * t, 4 * t + 4)) | group_bits(idx, g + 8, range(4 * t, 4 * t + 4)) << 16
        else:
            e = 0
        e_regs[lane, 0] = e - (1 << 32) if e >= 1 << 31 else e
    return a_regs.int(), b_regs.int(), e_regs.int()


def unpack_d(d: torch.Tensor) -> torch.Tensor:
    out = torch.zeros(16, 8)
    for lane in range(32):
        g, t = lane // 4, lane % 4
        out[g, 2 * t], out[g, 2 * t + 1], out[g + 8, 2 * t], out[g + 8, 2 * t + 1] = d[lane].tolist()
    return out


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    dense, vals, idx = random_sparse(gen)
    b = torch.randn(32, 8, generator=gen).half()
    want = dense.float() @ b.float()
    for name, asm in SP_ASM.items():
        for hyp in ("row_per_lane", "half_per_lane"):
            a_r, b_r, e_r = (t.cuda() for t in fragments(vals, idx, b, hyp))
            d = torch.zeros(32, 4, dtype=torch.float32, device="cuda")
            _mma_sp_kernel[(1,)](a_r, b_r, e_r, d, ASM=asm, num_warps=1)
            got = unpack_d(d.cpu())
            err = (got - want).abs().max().item()
            print(f"mma {name}, metadata {hyp}: max |D - A B| = {err:.3g} ({'MATCH' if err < 1e-2 else 'no'})",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
