"""A 16-entry LUT held in registers, looked up with byte permutes: 8 packed 4-bit codes -> 8 FMAs, no memory access.

The one-token decode kernel (triton_decode_prmt.py) keeps, per weight row and group, the 16 LUT values (fp16 or
bf16) as two byte tables: lo[0..3] = the low bytes of entries 0-3, 4-7, 8-11, 12-15 (one b32 each), hi[0..3] the
high bytes. One b32 word of packed codes holds 8 codes, nibble i = column i (kernels/packing.py, 2 per byte, low
nibble first). `prmt.b32 d, a, b, sel` picks 4 bytes out of {b, a} by the 4 selector nibbles' low 3 bits, so

    sel  = word & 0x77777777                   codes without their bit 3 (entries 0-7 / 8-15 alike); prmt
                                               reads a selector's low 16 bits, so these are codes 0-3's
    mask = prmt(word << 4, word, 0xD9C8)       0xFF in byte i where code i has bit 3 set (sign-replicate mode)
    lo   = mask ? prmt(lo2, lo3, sel) : prmt(lo0, lo1, sel)        low bytes of the 4 looked-up entries
    hi   = mask ? prmt(hi2, hi3, sel) : prmt(hi0, hi1, sel)        high bytes
    w01  = prmt(lo, hi, 0x5140), w23 = prmt(lo, hi, 0x7362)       entries as 16-bit pairs

then the same for codes 4-7 (sel >> 16, mask selector 0xFBEA): 21 instructions a word, one fewer than with the
mask taken per half (seventy-first session: 1-2 % off the one-token kernel and prefill on the H100, a tie at 4-16
tokens). Then per entry: to fp32, one FMA with x. About 30 instructions per 8 weights, against ~12 per weight for
the L1 gather of the generic decode kernel.

The half-precision form ("f16x2": fp16 LUT and fp16 x) multiplies the 16-bit pairs w01 .. w67 with x's pairs as
they lie in memory: one `fma.rn.f16x2` per two weights, the word's 8 products summed in fp16 (4 per half), and
only that sum converted and added to the fp32 accumulator: 8 instructions per word where the fp32 form spends 16
(plus x's conversions). Its rounding is an fp16 GEMV's: each product and each of the 3 partial sums per half
rounded to fp16 (11 bits), every sum beyond the word's 8 products kept in fp32.

The sequence is kept as data (`lookup_program`) so the PTX (`to_ptx`) and a Python emulator of the same
instructions (`emulate`, the PTX ISA's semantics of and/or/shl/shr/prmt/lop3/mov/cvt/fma/set.eq) come from one source:
the CPU tests run the emulator on random codes and LUTs against a plain table lookup.
"""

from __future__ import annotations

import struct

import numpy as np

# Operands of the asm block: $0 = new accumulator (f32), $1 = accumulator, $2 = 8 packed codes (b32),
# $3-$6 = lo0-lo3, $7-$10 = hi0-hi3 (b32), $11-$18 = x of the word's 8 columns (f32).
NUM_OPERANDS = 19
CONSTRAINTS = "=f,f,r," + ",".join(["r"] * 8) + "," + ",".join(["f"] * 8)
# The half-precision form: $11-$14 = x of columns (0, 1), (2, 3), (4, 5), (6, 7) as fp16 pairs (b32).
HALF2_CONSTRAINTS = "=f,f,r," + ",".join(["r"] * 12)
SELECT = 0xCA  # lop3 immLut of a ? b : c, bitwise (F(0xF0, 0xCC, 0xAA) = (a & b) | (~a & c))


def _code_halves(word: str):
    """Per half of the word (codes 0-3, then 4-7; after a first `shl w4, word, 4`): (half, instructions leaving the
    half's selectors s = codes & 7 in its 4 bytes and their bit-3 mask m, 0xFF in the byte of each code >= 8)."""
    for half, mask_sel in enumerate((0xD9C8, 0xFBEA)):
        # prmt reads only its selector's low 16 bits, so one and serves both halves and the second needs only a shift
        prog = [("shr", "s", "s", 16)] if half else [("and", "s", word, 0x77777777)]
        yield half, prog + [("prmt", "m", "w4", word, mask_sel)]


def _lookup(word: str, lo: tuple[str, ...], hi: tuple[str, ...]) -> list[tuple]:
    """Instructions leaving the 8 entries of the codes in `word` as 16-bit pairs in q0 (columns 0, 1) .. q3."""
    prog: list[tuple] = [("shl", "w4", word, 4)]
    for half, selectors in _code_halves(word):
        prog += selectors + [
            ("prmt", "t0", lo[0], lo[1], "s"),
            ("prmt", "t1", lo[2], lo[3], "s"),
            ("lop3", "l", "m", "t1", "t0", SELECT),
            ("prmt", "t0", hi[0], hi[1], "s"),
            ("prmt", "t1", hi[2], hi[3], "s"),
            ("lop3", "h", "m", "t1", "t0", SELECT),
            ("prmt", f"q{2 * half}", "l", "h", 0x5140),
            ("prmt", f"q{2 * half + 1}", "l", "h", 0x7362),
        ]
    return prog


def lookup_program(lut_dtype: str) -> list[tuple]:
    """One word looked up and multiplied in (the one-token kernel): $0 = $1 + sum_j LUT(code_j) * x_j.

    lut_dtype "f16", "bf16" (x as 8 fp32 operands) or "f16x2" (x as 4 fp16 pairs, products and the word's sum
    in fp16). Instructions are (op, dest, *sources); sources are "$n", temporaries or ints.
    """
    prog = _lookup("$2", ("$3", "$4", "$5", "$6"), ("$7", "$8", "$9", "$10"))
    if lut_dtype == "f16x2":
        return prog + _half2_word_sum(("q0", "q1", "q2", "q3"), ("$11", "$12", "$13", "$14"), "$1", "$0")
    acc = "$1"
    for i in range(4):
        q = f"q{i}"
        if lut_dtype == "f16":
            prog.append(("mov_split", "e0", q))  # e0, e1 = its low, high half
        for j in range(2):  # entry of column 2i + j: the low (j = 0) or high half of q
            if lut_dtype == "f16":
                prog.append(("cvt_f16", "f", f"e{j}"))
            else:  # bf16 -> f32 is the 16 bits moved to the top
                prog.append(("shl", "f", q, 16) if j == 0 else ("and", "f", q, 0xFFFF0000))
            prog.append(("fma", "a", "f", f"${11 + 2 * i + j}", acc))
            acc = "a"
    prog.append(("mov", "$0", "a"))
    return prog


def _half2_word_sum(pairs: tuple[str, ...], xs: tuple[str, ...], acc: str, out: str) -> list[tuple]:
    """out = acc + the word's 8 products (the entry pairs times x's pairs) summed in fp16 per half, each half's sum
    converted and added in fp32."""
    prog = [("mul_f16x2", "p", pairs[0], xs[0])]
    prog += [("fma_f16x2", "p", pairs[i], xs[i], "p") for i in (1, 2, 3)]
    return prog + [("mov_split", "e0", "p"), ("cvt_f16", "f", "e0"), ("add_f32", "a", acc, "f"),
                   ("cvt_f16", "f", "e1"), ("add_f32", "a", "a", "f"), ("mov", out, "a")]  # fmt: skip


# Operands of half2_fma_program: $0 = new accumulator (f32), $1 = accumulator, $2-$5 = a word's entries as 16-bit
# pairs q0 .. q3 (pairs_program's output), $6-$9 = x of the word's column pairs (fp16 pairs, b32).
HALF2_FMA_CONSTRAINTS = "=f,f," + ",".join(["r"] * 8)


def half2_fma_program() -> list[tuple]:
    """One token's share of a word looked up once (the 2-4-token kernel, triton_decode_prmt_tokens.py): $0 = $1 +
    the word's 8 products with x, rounded as lookup_program("f16x2") rounds them: 9 instructions a token and word
    against the lookup's 21."""
    return _half2_word_sum(("$2", "$3", "$4", "$5"), ("$6", "$7", "$8", "$9"), "$1", "$0")


# Operands of the dequantizing form: $0-$7 = the 8 entries (16-bit, columns 0-7), $8 = 8 packed codes,
# $9-$12 = lo0-lo3, $13-$16 = hi0-hi3.
DEQUANT_CONSTRAINTS = ",".join(["=h"] * 8 + ["r"] * 9)


def dequant_program() -> list[tuple]:
    """One word to its 8 LUT entries (the multi-token kernel hands them to the tensor cores); any 16-bit LUT."""
    prog = _lookup("$8", ("$9", "$10", "$11", "$12"), ("$13", "$14", "$15", "$16"))
    return prog + [("split_out", f"${2 * i}", f"${2 * i + 1}", f"q{i}") for i in range(4)]


# Operands of gather_dequant_program: $0-$7 = 8 entries (16-bit), $8-$11 = 4 code words w0-w3, $12 = the byte
# selector t | (t + 4) << 4 (t < 4), $13-$16 = lo0-lo3, $17-$20 = hi0-hi3.
GATHER_DEQUANT_CONSTRAINTS = ",".join(["=h"] * 8 + ["r"] * 13)


def gather_dequant_program() -> list[tuple]:
    """Byte t of each of 4 code words (w0.t, w1.t, w2.t, w3.t: two codes each) gathered into one word, then its 8
    entries (dequant_program): the wgmma prefill kernel's A fragments, where lane t of a quad holds columns 2t, 2t+1
    and 2t+8, 2t+9 of every 16 (kernels/triton_prefill_wgmma.py). Entry 2i + p is nibble p of byte t of w_i."""
    prog: list[tuple] = [("prmt", "q0", "$8", "$9", "$12"), ("prmt", "q1", "$10", "$11", "$12"),
                         ("prmt", "p", "q0", "q1", 0x5410)]  # fmt: skip
    prog += _lookup("p", ("$13", "$14", "$15", "$16"), ("$17", "$18", "$19", "$20"))
    return prog + [("split_out", f"${2 * i}", f"${2 * i + 1}", f"q{i}") for i in range(4)]


# Operands of pairs_program: $0-$3 = the word's entries as 16-bit pairs q0 .. q3 (b32 out), $4 = 8 packed codes,
# $5-$8 = lo0-lo3, $9-$12 = hi0-hi3.
PAIRS_CONSTRAINTS = "=r,=r,=r,=r," + ",".join(["r"] * 9)


def pairs_program() -> list[tuple]:
    """One word to its 8 LUT entries as 16-bit pairs (columns (0, 1), (2, 3), (4, 5), (6, 7)): the tensor-core
    fragment kernel (triton_decode_mma.py) hands them to mma.sync as they are; any 16-bit LUT."""
    prog = _lookup("$4", ("$5", "$6", "$7", "$8"), ("$9", "$10", "$11", "$12"))
    return prog + [("mov", f"${i}", f"q{i}") for i in range(4)]


ARITHMETIC = {"fma": "fma.rn.f32", "add_f32": "add.f32", "mul_f16x2": "mul.rn.f16x2", "fma_f16x2": "fma.rn.f16x2",
              "set_eq_f16x2": "set.eq.f16x2.f16x2", "set_eq_bf16x2": "set.eq.bf16x2.bf16x2"}


def to_ptx(prog: list[tuple]) -> str:
    """The PTX text of a program (one `{ ... }` scope with its temporaries)."""
    lines = [".reg .b32 w4, s, m, t0, t1, l, h, q0, q1, q2, q3, p; .reg .b16 e0, e1; .reg .f32 f, a;"]
    for op, dst, *src in prog:
        args = [f"{v:#x}" if isinstance(v, int) else v for v in src]
        if op == "mov_split":
            lines.append(f"mov.b32 {{e0, e1}}, {args[0]};")
        elif op == "split_out":
            lines.append(f"mov.b32 {{{dst}, {args[0]}}}, {args[1]};")
        elif op == "cvt_f16":
            lines.append(f"cvt.f32.f16 {dst}, {args[0]};")
        else:  # arithmetic (ARITHMETIC's mnemonics), or and, or, shl, shr, prmt, lop3, mov on b32
            lines.append(f"{ARITHMETIC.get(op, op + '.b32')} {dst}, {', '.join(args)};")
    return "{ " + " ".join(lines) + " }"


def prmt(a, b, c: int):
    """PTX prmt.b32 default mode: byte i of the result = byte (c >> 4i) & 7 of {b, a}, or its sign (bit 3). a and b:
    b32 values as Python ints, or int64 tensors of them (elementwise: the pair-table kernel's model)."""
    src = (b << 32) | a
    out = 0
    for i in range(4):
        nib = (c >> (4 * i)) & 0xF
        byte = (src >> (8 * (nib & 7))) & 0xFF
        if nib & 8:
            byte = ((byte >> 7) & 1) * 0xFF  # the byte's sign, replicated
        out = out | byte << (8 * i)
    return out


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


def _bits(value: float) -> int:
    return struct.unpack("<I", struct.pack("<f", value))[0]


def emulate(prog: list[tuple], operands: dict[str, int | float]) -> dict[str, int]:
    """Run a program on Python integers (b32 operands as ints, f32 ones as floats); returns every register's bits
    (`f32(regs["$0"])` reads a float result)."""
    regs: dict[str, int] = {}
    for name, value in operands.items():
        regs[name] = _bits(np.float32(value)) if isinstance(value, float) else value & 0xFFFFFFFF

    def val(v):
        return v if isinstance(v, int) else regs[v]

    for op, dst, *src in prog:
        if op == "split_out":  # dst, src[0] = low, high half of src[1]
            regs[dst], regs[src[0]] = regs[src[1]] & 0xFFFF, regs[src[1]] >> 16
            continue
        v = [val(s) for s in src]
        if op == "and":
            regs[dst] = v[0] & v[1]
        elif op == "or":
            regs[dst] = v[0] | v[1]
        elif op == "xor":
            regs[dst] = v[0] ^ v[1]
        elif op == "shl":
            regs[dst] = (v[0] << v[1]) & 0xFFFFFFFF
        elif op == "shr":
            regs[dst] = v[0] >> v[1]
        elif op == "prmt":
            regs[dst] = prmt(v[0], v[1], v[2])
        elif op == "lop3":
            a, b, c, lut = v
            regs[dst] = sum(((lut >> (((a >> i) & 1) << 2 | ((b >> i) & 1) << 1 | ((c >> i) & 1))) & 1) << i
                            for i in range(32))  # fmt: skip
        elif op == "mov_split":
            regs["e0"], regs["e1"] = v[0] & 0xFFFF, v[0] >> 16
        elif op == "cvt_f16":
            regs[dst] = _bits(np.float32(np.uint16(v[0]).view(np.float16)))
        elif op == "fma":
            x, y, z = (np.float64(f32(t)) for t in v)
            regs[dst] = _bits(np.float32(x * y + z))  # fused: one rounding
        elif op == "add_f32":
            regs[dst] = _bits(np.float32(np.float64(f32(v[0])) + np.float64(f32(v[1]))))
        elif op in ("mul_f16x2", "fma_f16x2"):  # per 16-bit half; exact in float64, then one rounding to fp16
            halves = [_f16_halves(t) for t in v]
            out = []
            for i in range(2):
                r = halves[0][i] * halves[1][i] + (halves[2][i] if op == "fma_f16x2" else 0.0)
                out.append(int(np.float16(r).view(np.uint16)))
            regs[dst] = out[0] | out[1] << 16
        elif op in ("set_eq_f16x2", "set_eq_bf16x2"):  # per 16-bit half: 1.0 where equal (neither is NaN)
            f16 = op == "set_eq_f16x2"
            as_float = _f16_halves if f16 else _bf16_halves
            one = 0x3C00 if f16 else 0x3F80
            a, b = as_float(v[0]), as_float(v[1])
            regs[dst] = sum((one if a[i] == b[i] else 0) << (16 * i) for i in range(2))
        elif op == "mov":
            regs[dst] = v[0]
        else:
            raise ValueError(f"unknown op {op}")
    return regs


def _bf16_halves(bits: int) -> tuple[float, float]:
    """The two bf16 halves of a b32 (low first) as floats."""
    return tuple(float(np.uint32((bits >> (16 * i) & 0xFFFF) << 16).view(np.float32)) for i in range(2))


def _f16_halves(bits: int) -> tuple[float, float]:
    """The low and high fp16 halves of a b32, as float64."""
    return tuple(float(np.uint16((bits >> s) & 0xFFFF).view(np.float16)) for s in (0, 16))


# The byte tables from the LUT's entries as loaded, 16-bit pairs pa = {e0, e1}, pb = {e2, e3} (b32, low half first):
# lo = bytes 0, 2 of pa and 0, 2 of pb; hi = bytes 1, 3 of each. One prmt each (the shifts and masks they replace
# compiled to ~8 instructions per table: a quarter of the one-token kernel's instructions at 1,024 columns a program).
TABLE_SELECT = {"lo": 0x6420, "hi": 0x7531}


def table_ptx(half: str) -> str:
    """The asm of one byte table ("lo" or "hi"): $0 = prmt($1 = pa, $2 = pb)."""
    return f"prmt.b32 $0, $1, $2, {TABLE_SELECT[half]:#x};"


def table_from_pairs(pa: int, pb: int, half: str) -> int:
    """What table_ptx computes, by the emulator's prmt."""
    return prmt(pa, pb, TABLE_SELECT[half])


def byte_tables(entries16: np.ndarray) -> tuple[list[int], list[int]]:
    """lo[0..3], hi[0..3] of 16 LUT entries given as uint16 bit patterns (what the kernel builds per row)."""
    e = [int(v) for v in entries16]
    lo = [sum((e[4 * t + i] & 0xFF) << (8 * i) for i in range(4)) for t in range(4)]
    hi = [sum((e[4 * t + i] >> 8) << (8 * i) for i in range(4)) for t in range(4)]
    return lo, hi
