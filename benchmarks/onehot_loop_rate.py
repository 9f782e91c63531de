"""The 16-token bucket kernel's inner loop alone, in fp16 (as shipped: the WIDE form) and in int8 with x as two digits
(the form mma_rate.py --int8 asks about), each with and without building its one-hot: how close each gets to its
own MMA rate, per k column of work.

    python3 benchmarks/onehot_loop_rate.py [--iters 512]

One PTX loop a thread (inline asm, no memory inside), 2-warp programs, 4, 6 or 8 programs an SM. A warp's iteration:
- f16 (one k16 step of the WIDE form): two code words vary (an LCG each), each one prmt / and / or into the codes'
  fp16 encoding and 16 set.eq.f16x2 (every code value); then 8 m16 tiles (8 weight rows x 2 code values) x 2 token
  tiles of m16n8k16: 16 HMMA into 64 fp32 accumulators a thread;
- i8 (one k32 step): two code words vary, each one shift for its prmt selector and one xor 0x8888 (code values
  8-15); per tile 4 prmt from a one-byte table (1 at byte c mod 8: the code nibble selects it, the sign-replicate
  bit answers 0 for the other half of the code values), then 2 token tiles x 2 digits of m16n8k32 int8: 32 IMMA into
  128 int32 accumulators a thread;
- f16-per-tile: f16 with each tile's A built into the same 4 registers just before its MMAs, as the i8 loop does;
- *-mma: the same MMAs with constant A (the one-hot's cost is the difference).
x's fragments stay in registers (the kernel loads them from shared memory: 2 ldmatrix.x4 a k32 in both forms, left
out of both). Reports k columns a microsecond an SM (16 a f16 iteration, 32 an i8 one: the same work per k).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kernels.triton_bucket_int8 import int8_onehot_table  # noqa: E402

WARPS = 2
LCG = ("1664525", "1013904223")
F16_BASE = 0x6400


def _f16_compare(c: int) -> int:
    """The codes' fp16 encoding of code value c for both nibbles of a byte (triton_bucket_wgmma.compare_word)."""
    return (F16_BASE | c) | ((F16_BASE | (c << 4)) << 16)


def f16_loop(onehot: bool, per_tile: bool = False) -> str:
    """PTX: $0 (f32 out) = the sum of the accumulators after $1 iterations from seed $2. per_tile: each tile's 4 A
    registers built just before its MMAs into the same 4 registers (as the i8 loop does), not all 32 first."""
    regs = ".reg .f32 acc<64>; .reg .b32 w0, w1, q0, q1, n, b0, b1, b2, b3, cmp<16>, a<32>; .reg .pred p; .reg .f32 s;"
    init = [f"mov.f32 acc{i}, 0f00000000;" for i in range(64)]
    init += [f"mov.b32 cmp{c}, {_f16_compare(c):#x};" for c in range(16)]
    init += ["mov.b32 w0, $2;", "xor.b32 w1, $2, 0x5bd1e995;", "mov.b32 n, $1;"]
    init += [f"mov.b32 b{i}, 0x3c003c00;" for i in range(4)]
    init += [f"mov.b32 a{i}, {0x3C00 if i % 3 else 0:#x};" for i in range(32)]  # constant A (f16-mma)
    body = [f"mad.lo.u32 w0, w0, {LCG[0]}, {LCG[1]};", f"mad.lo.u32 w1, w1, {LCG[0]}, {LCG[1]};"]
    if onehot:
        for q, w in (("q0", "w0"), ("q1", "w1")):
            body += [f"prmt.b32 {q}, {w}, {w}, 0x101;", f"and.b32 {q}, {q}, 0xf0000f;", f"or.b32 {q}, {q}, 0x64006400;"]
        if not per_tile:
            body += [f"set.eq.f16x2.f16x2 a{2 * c + h}, q{h}, cmp{c};" for c in range(16) for h in range(2)]
    for j in range(8):  # tile j: code values 2j (rows g) and 2j + 1 (rows g + 8); a{2c + h}: code value c, byte h
        a = f"{{a{4 * j}, a{4 * j + 2}, a{4 * j + 1}, a{4 * j + 3}}}"
        if per_tile:
            a = "{a0, a1, a2, a3}"
            if onehot:
                body += [f"set.eq.f16x2.f16x2 a{i}, q{h}, cmp{c};"
                         for i, (c, h) in enumerate(((2 * j, 0), (2 * j + 1, 0), (2 * j, 1), (2 * j + 1, 1)))]
        for t, b in enumerate(("{b0, b1}", "{b2, b3}")):
            d = ", ".join(f"acc{8 * j + 4 * t + i}" for i in range(4))
            body.append(f"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {{{d}}}, {a}, {b}, {{{d}}};")
    body += ["sub.s32 n, n, 1;", "setp.gt.s32 p, n, 0;", "@p bra F16LOOP;"]
    tail = ["mov.f32 s, acc0;"] + [f"add.f32 s, s, acc{i};" for i in range(1, 64)] + ["mov.f32 $0, s;"]
    return "{ " + regs + " " + " ".join(init) + " F16LOOP: " + " ".join(body) + " " + " ".join(tail) + " }"


def i8_loop(onehot: bool) -> str:
    """PTX: $0 (f32 out) = the sum of the accumulators after $1 iterations from seed $2."""
    regs = (".reg .s32 acc<128>; .reg .b32 w0, w1, s0, s1, x0, x1, n, z, t<8>, bx<8>, a<4>; .reg .pred p; "
            ".reg .s32 s; .reg .f32 f;")  # fmt: skip
    init = [f"mov.s32 acc{i}, 0;" for i in range(128)]
    init += [f"mov.b32 t{j}, {max(int8_onehot_table(j)[:2]):#x};" for j in range(8)] + ["mov.b32 z, 0;"]
    init += ["mov.b32 w0, $2;", "xor.b32 w1, $2, 0x5bd1e995;", "mov.b32 n, $1;"]
    init += [f"mov.b32 bx{i}, 0x01010101;" for i in range(8)]
    init += ["mov.b32 s0, 0x3210;", "mov.b32 s1, 0x7654;", "mov.b32 x0, 0x1032;", "mov.b32 x1, 0x5476;"]
    init += [f"mov.b32 a{i}, {0x01000100 if i % 2 else 0x00010001:#x};" for i in range(4)]  # constant A (i8-mma)
    body = [f"mad.lo.u32 w0, w0, {LCG[0]}, {LCG[1]};", f"mad.lo.u32 w1, w1, {LCG[0]}, {LCG[1]};"]
    if onehot:
        body += ["shr.b32 s0, w0, 16;", "shr.b32 s1, w1, 16;", "xor.b32 x0, s0, 0x8888;", "xor.b32 x1, s1, 0x8888;"]
    for j in range(8):  # tile j: code values 2j (rows g), 2j + 1 (rows g + 8); k 4t.. from word 0, 16 + 4t.. word 1
        if onehot:
            for i, (c, sel) in enumerate(((2 * j, "0"), (2 * j + 1, "0"), (2 * j, "1"), (2 * j + 1, "1"))):
                lo, hi, flip = int8_onehot_table(c)  # t{c % 8} holds the table's non-zero word
                lo, hi = (f"t{c % 8}", "z") if lo else ("z", f"t{c % 8}")
                body.append(f"prmt.b32 a{i}, {lo}, {hi}, {'x' if flip else 's'}{sel};")
        for t in range(2):  # token tiles
            for dgt in range(2):  # x's digits
                b = f"{{bx{4 * t + 2 * dgt}, bx{4 * t + 2 * dgt + 1}}}"
                d = ", ".join(f"acc{16 * j + 8 * t + 4 * dgt + i}" for i in range(4))
                body.append(f"mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {{{d}}}, {{a0, a1, a2, a3}}, {b}, "
                            f"{{{d}}};")  # fmt: skip
    body += ["sub.s32 n, n, 1;", "setp.gt.s32 p, n, 0;", "@p bra I8LOOP;"]
    tail = ["mov.s32 s, acc0;"] + [f"add.s32 s, s, acc{i};" for i in range(1, 128)]
    tail += ["cvt.rn.f32.s32 f, s;", "mov.f32 $0, f;"]
    return "{ " + regs + " " + " ".join(init) + " I8LOOP: " + " ".join(body) + " " + " ".join(tail) + " }"


LOOPS = {"f16": (f16_loop(True), 16), "f16-mma": (f16_loop(False), 16), "f16-per-tile": (f16_loop(True, True), 16),
         "f16-per-tile-mma": (f16_loop(False, True), 16), "i8": (i8_loop(True), 32), "i8-mma": (i8_loop(False), 32)}
# fmt: skip


@triton.jit
def _loop_kernel(out_ptr, ITERS, ASM: tl.constexpr, N: tl.constexpr):
    """One asm loop a thread (N = the program's threads: one element each)."""
    offs = tl.arange(0, N)
    seed = (offs + tl.program_id(0) * N).to(tl.int32)
    iters = (offs * 0 + ITERS).to(tl.int32)
    out = tl.inline_asm_elementwise(ASM, "=f,r,r", [iters, seed], dtype=tl.float32, is_pure=True, pack=1)
    tl.store(out_ptr + tl.program_id(0) * N + offs, out)


def compile_sm90(name: str) -> tuple[int, dict]:
    """(registers, opcode counts of the SASS) of a loop compiled for sm_90 without a GPU."""
    import re
    from collections import Counter

    from bench_kernels import sm90_compile

    regs, _, _, sass = sm90_compile(_loop_kernel, ["ITERS"], [], {"ASM": LOOPS[name][0], "N": 32 * WARPS}, WARPS, 1,
                                    extra_sig={"out_ptr": "*fp32"})  # fmt: skip
    ops = Counter(m.split(".")[0] for m in re.findall(r"\b(HMMA[.\w]*|IMMA[.\w]*|HSET2[.\w]*|PRMT|LOP3[.\w]*)\b", sass))
    return int(regs), dict(ops)


def k_rate(name: str, programs_per_sm: int, iters: int) -> tuple[float, float]:
    """(us, k columns a microsecond an SM) of programs_per_sm 2-warp programs an SM each running the loop."""
    from bench_kernels import graph_us

    asm, k_per_iter = LOOPS[name]
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    grid = sms * programs_per_sm
    out = torch.empty(grid * 32 * WARPS, dtype=torch.float32, device="cuda")

    def launch():
        _loop_kernel[(grid,)](out, iters, ASM=asm, N=32 * WARPS, num_warps=WARPS)

    launch()
    us = graph_us(launch, reps=3)
    return us, grid * WARPS * iters * k_per_iter / sms / us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=512)
    args = parser.parse_args()
    for name in LOOPS:
        for programs_per_sm in (4, 6, 8):
            us, rate = k_rate(name, programs_per_sm, args.iters)
            print(f"{name}: {programs_per_sm} programs an SM ({programs_per_sm * WARPS} warps): {us:.1f} us, "
                  f"{rate:.0f} k columns (128 one-hot rows x 16 tokens) a microsecond an SM", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
