"""Where 4-16 tokens of one task go in the fragment decode kernel, chunk by chunk: its copy with clock stamps.

    python3 benchmarks/decode_timeline_mma.py --out OUT_DIR [--m 4] [--shapes 4096x4096] [--gpr 1,4]
    python3 benchmarks/decode_timeline_mma.py --plot OUT_DIR/decode_timeline_mma.json      (the PNG again)

At 4-16 tokens of one task the op takes the fragment kernel (kernels/triton_decode_mma.py) or the wgmma split-K
kernel, 1.5-2.1x cuBLAS against the bar's 2.5x. The fragment kernel's H100 grid (sixtieth session) moved with the
chunks a program walks (split-K 2: 27 us, 4: 16.4, 8: 12.4 at 4 tokens, 4096x4096, gpr 4), and Nsight found it
issuing in a fifth of its cycles. This copy of its chunks-in-turn path (one task, one slot; the same jit helpers)
stamps as decode_timeline.py does (one asm a stamp, after the value it follows):

    start        the program's first instruction (and %globaltimer, %smid)
    chunk c      each chunk's MMAs into the first accumulator done (c = 0 .. K range / (32 WPL) - 1)
    end          after the split-K partial stored and the arrival (and, for the last program to arrive, the sum of
                 the partials into y), behind a CTA barrier

Each lane in STAMP_EVERY stores its stamps. Writes OUT_DIR/decode_timeline_mma.json and .png in decode_timeline.py's
format (chunks in the place of blocks), and prints a line per case.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import BITS, Layer, graph_us, make_batch  # noqa: E402
from decode_timeline import _now, _stamp, plot, save, stamped_runs  # noqa: E402

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_common import pdl_args, pdl_wait, split_k_launch  # noqa: E402
from kernels.triton_decode_mma import (  # noqa: E402
    _chunk_mma,
    _chunk_word_by_word,
    _group_start,
    _lane_rows,
    _next_chunk,
    _slot_tables,
    _write_y,
    default_sum_at_once,
    launch_decode_mma,
    x16_ok,
)

# (warps, row blocks a warp, words per lane, split-K) of the fragment kernel: the H100 grid's best at 4 tokens and
# gpr 4 (8, 1, 4, 8), the shipped candidates (2, 1, 4, 8) and (2, 2, 2, 8), and split-K 4 (the grid's slope)
CONFIGS = {
    "w8-r1-wpl4-s8": {"num_warps": 8, "ROWS": 1, "WPL": 4, "SPLIT_K": 8},
    "w2-r1-wpl4-s8": {"num_warps": 2, "ROWS": 1, "WPL": 4, "SPLIT_K": 8},
    "w2-r2-wpl2-s8": {"num_warps": 2, "ROWS": 2, "WPL": 2, "SPLIT_K": 8},
    "w4-r1-wpl4-s4": {"num_warps": 4, "ROWS": 1, "WPL": 4, "SPLIT_K": 4},
}
STAMP_EVERY = 8  # lanes: one in STAMP_EVERY stores its stamps


def config_of(label: str) -> dict:
    """A CONFIGS label, then "-a<N>" for AHEAD N (each chunk's loads asked for at once, N - 1 chunks ahead) and
    "-o<N>" for SUM_AT_ONCE N (split-K partials the last program loads together), each optional."""
    extra = {}
    while label not in CONFIGS:
        label, _, flag = label.rpartition("-")
        extra[{"a": "AHEAD", "o": "SUM_AT_ONCE"}[flag[0]]] = int(flag[1:])
    return CONFIGS[label] | extra


@triton.jit
def _stamped_mma_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, ws_ptr, counter_ptr, stamp_ptr, zero_ptr,
    M, N, K, GS, stride_xm, stride_cw, stride_ls, stride_ln, stride_ym, K_PER_SPLIT, SPLIT_K,
    BITS: tl.constexpr, WARPS: tl.constexpr, WPL: tl.constexpr, TILES: tl.constexpr, ROWS: tl.constexpr,
    USE_SPLIT: tl.constexpr, BF16: tl.constexpr, X16: tl.constexpr, NCHUNKS: tl.constexpr,
    STAMP_EVERY: tl.constexpr, PDL: tl.constexpr = False, AHEAD: tl.constexpr = 0, SUM_AT_ONCE: tl.constexpr = 2,
):  # fmt: skip
    """_decode_mma_kernel's chunks-in-turn path (ASM) for one task (every token in token 0's slot), plus stamps.
    stamp_ptr: uint32 [programs, 3 + (2 NCHUNKS + 3) * NT / STAMP_EVERY] (decode_timeline.py's layout: start
    clock, globaltimer, smid, then each chunk's and the end's clocks of the sampled lanes; the rest unused), one row
    more whose last element is zero_ptr's 0."""
    NT: tl.constexpr = 32 * WARPS
    CHUNK: tl.constexpr = 32 * WPL
    SAMPLES: tl.constexpr = NT // STAMP_EVERY
    ROW: tl.constexpr = 3 + (2 * NCHUNKS + 3) * SAMPLES
    zero = tl.load(zero_ptr)  # 0, unknown to the compiler
    clock0, timer0, smid = _now(zero)
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    lane = tl.arange(0, NT)
    g, t, r0, rb, r0c, r1c, r2c, r3c = _lane_rows(pid_n, N, NT, ROWS)
    words_ptr = codes_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    x_quads = x_ptr.to(tl.pointer_type(tl.uint64), bitcast=True)
    w0_ptr = words_ptr + r0c * stride_cw + WPL * t
    w1_ptr = words_ptr + r1c * stride_cw + WPL * t
    w2_ptr = words_ptr + r2c * stride_cw + WPL * t
    w3_ptr = words_ptr + r3c * stride_cw + WPL * t
    tok0 = g
    tok1 = g + 8
    sel0 = tok0 < M  # one task: every token's
    sel1 = tok1 < M
    x0_off = tok0.to(tl.int64) * (stride_xm // 4) + 2 * WPL * t
    x1_off = tok1.to(tl.int64) * (stride_xm // 4) + 2 * WPL * t
    out0 = 2 * t
    out1 = 2 * t + 8
    k_start = pid_k * K_PER_SPLIT
    k_end = tl.minimum(k_start + K_PER_SPLIT, K)
    cur = tl.load(slot_ptr)
    pdl_wait(PDL)
    out = stamp_ptr + (pid_n * SPLIT_K + pid_k).to(tl.int64) * ROW
    tl.store(out, clock0)
    tl.store(out + 1, timer0)
    tl.store(out + 2, smid)
    sampled = lane % STAMP_EVERY == 0
    slot_of = lane // STAMP_EVERY

    z = tl.zeros((NT,), dtype=tl.float32)
    a00, a01, a02, a03, a10, a11, a12, a13 = z, z, z, z, z, z, z, z  # block 0 (rows r0, r0 + 8)
    b00, b01, b02, b03, b10, b11, b12, b13 = z, z, z, z, z, z, z, z  # block 1 (ROWS 2)
    ch = 0
    for grp in range(k_start // GS, (k_end - 1) // GS + 1):
        lo = tl.maximum(grp * GS, k_start)
        hi = tl.minimum(grp * GS + GS, k_end)
        if AHEAD > 0:  # _group_chunks' loop, a stamp after each chunk
            acc_a = (a00, a01, a02, a03, a10, a11, a12, a13)
            acc_b = (b00, b01, b02, b03, b10, b11, b12, b13)
            tabs, last, nw1, nx1, nw2, nx2 = _group_start(w0_ptr, w1_ptr, w2_ptr, w3_ptr, pairs_ptr, x_quads, cur,
                                                          r0c, r1c, r2c, r3c, x0_off, x1_off, sel0, sel1, lo, hi,
                                                          grp, stride_ls, stride_ln, BITS, WPL, TILES, ROWS, X16,
                                                          AHEAD)  # fmt: skip
            for c0 in range(lo, hi, CHUNK):
                words, xs, nw1, nx1, nw2, nx2 = _next_chunk(nw1, nx1, nw2, nx2, w0_ptr, w1_ptr, w2_ptr, w3_ptr,
                                                            x_quads, x0_off, x1_off, sel0, sel1, c0, last, WPL, TILES,
                                                            ROWS, X16, AHEAD)  # fmt: skip
                acc_a, acc_b = _chunk_mma(words, xs, tabs, acc_a, acc_b, WPL, TILES, ROWS, BF16)
                _stamp(acc_a[0] + acc_b[0], zero, out + 3 + ch * SAMPLES + slot_of, sampled)
                ch += 1
            a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
            b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
        else:  # the word-by-word loop
            tabs = _slot_tables(pairs_ptr, cur, r0c, r1c, r2c, r3c, grp, stride_ls, stride_ln, BITS, ROWS)
            for c0 in range(lo, hi, CHUNK):
                acc_a, acc_b = _chunk_word_by_word(
                    w0_ptr, w1_ptr, w2_ptr, w3_ptr, x_quads, x0_off, x1_off, c0, sel0, sel1, tabs,
                    (a00, a01, a02, a03, a10, a11, a12, a13), (b00, b01, b02, b03, b10, b11, b12, b13), WPL, TILES,
                    ROWS, BF16, X16)  # fmt: skip
                a00, a01, a02, a03, a10, a11, a12, a13 = acc_a
                b00, b01, b02, b03, b10, b11, b12, b13 = acc_b
                _stamp(a00 + b00, zero, out + 3 + ch * SAMPLES + slot_of, sampled)
                ch += 1

    _write_y(y_ptr, ws_ptr, counter_ptr, a00, a01, a02, a03, a10, a11, a12, a13, b00, b01, b02, b03, b10, b11, b12,
             b13, r0, rb, out0, out1, pid_n, pid_k, M, N, stride_ym, SPLIT_K, TILES, ROWS, USE_SPLIT,
             SUM_AT_ONCE)  # fmt: skip
    tl.debug_barrier()  # the end stamp after every store (a barrier orders the CTA's memory operations)
    _stamp(a00 + b00, zero, out + 3 + NCHUNKS * SAMPLES + slot_of, sampled)


def launch_stamped_mma(x, codes, pool, slots, y, stamps, config: dict) -> tuple[int, int]:
    """The stamped copy on config's grid (launch_fragments' split; stamps None: no launch). Returns (programs,
    chunks a program walks)."""
    m, k = x.shape
    n = codes.shape[0]
    warps, rows, wpl = config["num_warps"], config["ROWS"], config["WPL"]
    gs = k // pool.shape[2]
    split, k_per_split, n_tiles, ws, counters = split_k_launch(x, y, n, 16 * rows * warps, 32 * wpl,
                                                               config["SPLIT_K"])  # fmt: skip
    nchunks = k_per_split // (32 * wpl)
    if stamps is not None:
        _stamped_mma_kernel[(n_tiles, split)](
            x, codes, pool, slots, y, ws, counters, stamps, stamps[-1:, -1:],
            m, n, k, gs, x.stride(0), codes.stride(0) // 4, pool.stride(0), pool.stride(1), y.stride(0),
            k_per_split, split,
            BITS=BITS, WARPS=warps, WPL=wpl, TILES=1 if m <= 8 else 2, ROWS=rows, USE_SPLIT=split > 1,
            BF16=x.dtype == torch.bfloat16, X16=x16_ok(x), NCHUNKS=nchunks, STAMP_EVERY=STAMP_EVERY,
            AHEAD=config.get("AHEAD", 0), SUM_AT_ONCE=config.get("SUM_AT_ONCE", default_sum_at_once(m, rows)),
            num_warps=warps, num_stages=1, **pdl_args(x.device),
        )  # fmt: skip
    return n_tiles * split, nchunks


def run_case(m: int, n: int, k: int, gpr: int, label: str, config: dict) -> dict:
    layer = Layer(n, k, gpr)
    x, _ = make_batch(m, 1, k)
    slots = torch.zeros(m, dtype=torch.int32, device="cuda")
    codes, pool = layer.codes[0], layer.pools[0]
    y = torch.empty(m, n, dtype=torch.float16, device="cuda")
    programs, nchunks = launch_stamped_mma(x, codes, pool, slots, y, None, config)
    samples = 32 * config["num_warps"] // STAMP_EVERY
    stamps = torch.zeros(programs + 1, 3 + (2 * nchunks + 3) * samples, dtype=torch.int32, device="cuda")
    launch_stamped_mma(x, codes, pool, slots, y, stamps, config)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    err = (y.float() - ref.float()).abs().max().item()
    y2 = torch.empty_like(y)
    t_shipped = graph_us(lambda: launch_decode_mma(x, codes, pool, slots, BITS, y2, config))
    t_stamped = graph_us(lambda: launch_stamped_mma(x, codes, pool, slots, y, stamps, config))
    cublas_w = torch.randn(n, k, device="cuda", dtype=torch.float16)
    t_cublas = graph_us(lambda: x @ cublas_w.T)
    per_launch, example, ghz = stamped_runs(lambda: launch_stamped_mma(x, codes, pool, slots, y, stamps, config),
                                            stamps, nchunks, samples)  # fmt: skip
    chunks = [statistics.median(p["block_done_ns"][c] for p in per_launch) for c in range(nchunks)]
    row = {
        "M": m, "N": n, "K": k, "gpr": gpr, "config": label, **config, "err": err, "shipped_us": t_shipped,
        "stamped_us": t_stamped, "cublas_us": t_cublas, "clock_ghz": ghz, "launches": per_launch,
        "median": {"start_max_ns": statistics.median(p["start_ns"]["max"] for p in per_launch),
                   "first_chunk_after_start_ns": statistics.median(p["first_block_after_start_ns"]
                                                                   for p in per_launch),
                   "chunk_done_ns": chunks,
                   "end_median_ns": statistics.median(p["end_ns"]["median"] for p in per_launch),
                   "end_max_ns": statistics.median(p["end_ns"]["max"] for p in per_launch)},
        "example": example,
    }  # fmt: skip
    md = row["median"]
    print(f"{m} tokens {n}x{k} gpr {gpr} {label}: shipped {t_shipped:.2f} us (cuBLAS {t_cublas:.2f}), stamped "
          f"{t_stamped:.2f} (err {err:.1e}); {programs} programs start by {md['start_max_ns']:.0f} ns, chunk 0 "
          f"{md['first_chunk_after_start_ns']:.0f} ns after its start, chunks done (median) "
          f"{[round(c) for c in chunks]}, end median {md['end_median_ns']:.0f} max {md['end_max_ns']:.0f} ns",
          flush=True)  # fmt: skip
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--m", type=int, default=4, help="tokens of the one task (2-16)")
    ap.add_argument("--shapes", default="4096x4096")
    ap.add_argument("--gpr", default="1,4")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="labels of CONFIGS, comma-separated, each with -a<N> (AHEAD) and -o<N> (SUM_AT_ONCE) after it")
    ap.add_argument("--plot", type=Path, help="re-plot a decode_timeline_mma.json")
    args = ap.parse_args()
    if args.plot:
        plot(json.loads(args.plot.read_text()), args.plot.with_suffix(".png"))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for shape in args.shapes.split(","):
        n, k = map(int, shape.split("x"))
        for gpr in map(int, args.gpr.split(",")):
            for label in args.configs.split(","):
                rows.append(run_case(args.m, n, k, gpr, label, config_of(label)))
    save(rows, args.out / "decode_timeline_mma.json")


if __name__ == "__main__":
    main()
