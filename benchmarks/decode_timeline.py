"""Where one token's decode time goes, block by block: the shipped register-LUT kernel with clock stamps.

    python3 benchmarks/decode_timeline.py --out OUT_DIR [--shapes 4096x4096,11008x4096] [--gpr 1,4]
    python3 benchmarks/decode_timeline.py --plot OUT_DIR/decode_timeline.json      (the PNG again, no GPU)

Nsight Compute (sixtieth session) found the one-token kernel issuing in half its cycles with ~3.4 warps a scheduler
and its SMs empty a quarter of the time, and twice the warps with half the work each timed alike (8.1 against 7.9
us). That leaves two readings: the codes' stream sets the pace (each block waits on its words), or a fixed chain
does (the slot -> LUT -> tables prologue, the last block's lookups after the last words, the row sums). This script
runs a copy of `_decode_prmt_kernel`'s shipped path (X_VEC, HALF2, no split-K, PDL as launched; PREFETCH 1 unless a
config says otherwise; the same jit helpers) that also reads the SM's clock where the kernel waits anyway:

    start        the program's first instruction (and %globaltimer, %smid)
    block b      each K block's accumulator complete (b = 0 .. K / BLOCK_K - 1): its words, x and tables arrived
                 and its lookups done
    end          the row sums stored
    (PARTS)      the first block's words there, then the first group's tables (stamped before the loop, where the
                 first lookups wait on both anyway), then each later group's tables where its lookups wait on them

Configs (CONFIGS) may also load each later group's entries a group ahead (AHEAD, the sixtieth session's
TABLES_AHEAD) and keep 2 or 3 blocks in flight. (LATE, blocks 2 .. PREFETCH asked for once the first tables were
built, as the kernel's LATE then, was stamped and removed in the sixty-second session: NOTES.md.)

Each stamp is one asm (the clock read and the store: a tl.store would let Triton move the value through shared
memory, behind barriers, for a coalesced store), placed after the value it follows; SM code issues in order, so the
clock is read once the value's last instruction has issued (tests/kernels/test_decode_timeline.py checks both on
the sm_90 code). A stamp's store is predicated on the sampled words (one in STAMP_EVERY), so the stamps add ~6 % to
the kernel's stores and nothing to its loads. Each case runs after a write of twice the L2 (as kernels/timing.py
times), 10 launches; the uninstrumented kernel and the stamped one are also timed by graph replay, so the stamps'
own cost shows (0-0.8 us in the sixty-first session).

What it found (sixty-first session, benchmarks/NOTES.md): at 4096x4096 no first block ends before ~3 us (two
dependent DRAM round trips, the slot's and the LUT rows', then the first lookups), the later blocks follow every
~1 us (their words' round trip, one block ahead), and the last program ends ~1 us after the median one.

Writes OUT_DIR/decode_timeline.json (per case: per-launch program stamps in ns since the kernel's first program
start, medians per phase) and decode_timeline.png (per case: when the programs start, finish each block and end).
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

from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_common import pdl_args, pdl_wait  # noqa: E402
from kernels.triton_decode_prmt import (  # noqa: E402
    _block_sum,
    _load_words,
    _next_block,
    _pair_tables,
    _row_block,
    _row_pairs,
    _row_tables,
    launch_decode_prmt,
)

# the shipped one-token configs on the H100 (kernels/tuned) and the twice-the-warps twin of the gpr-1 one
CONFIGS = {
    "bn8-w4": {"BLOCK_N": 8, "BLOCK_K": 1024, "num_warps": 4, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1},
    "bn4-w2": {"BLOCK_N": 4, "BLOCK_K": 1024, "num_warps": 2, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1},
    "bn8-w8": {"BLOCK_N": 8, "BLOCK_K": 1024, "num_warps": 8, "PREFETCH": 1, "X_VEC": 1, "HALF2": 1},
}
# with the first block's words and tables stamped before the loop
CONFIGS |= {f"{label}-parts": config | {"PARTS": 1} for label, config in list(CONFIGS.items())}
# and with each later LUT group's entries loaded a group ahead
CONFIGS |= {f"{label}-ahead": config | {"AHEAD": 1} for label, config in list(CONFIGS.items())}
# two or three blocks in flight
CONFIGS |= {f"{label}-p{p}": config | {"PREFETCH": p} for label, config in list(CONFIGS.items()) for p in (2, 3)}
STAMP_EVERY = 16  # of a block's BW code words, one in STAMP_EVERY stores its thread's stamp
LAUNCHES = 10

# The SM clock, read once $1 (a value's bits) is there (the read waits on a predicate of ($1 & $2), $2 a runtime 0),
# stored at address $3 where $4 is not 0; $0: a dummy. One asm, so the stamp keeps the value's layout (a tl.store
# would let Triton move it through shared memory, behind a barrier a block, for a coalesced store).
STAMP = tl.constexpr("{ .reg .pred p, q; .reg .b32 t, c; and.b32 t, $1, $2; setp.eq.b32 p, t, 0; "
                     "@p mov.u32 c, %clock; @!p mov.u32 c, 0; setp.ne.u32 q, $4, 0; @q st.global.u32 [$3], c; "
                     "mov.u32 $0, t; }")


@triton.jit
def _stamp(value, zero, ptrs, sampled):
    """Store the SM clock at ptrs [value's shape] where sampled, once each element of value (fp32) is there."""
    bits = value.to(tl.uint32, bitcast=True)
    addr = tl.cast(ptrs, tl.uint64)
    return tl.inline_asm_elementwise(STAMP, "=r,r,r,l,r", [bits, zero, addr, sampled.to(tl.uint32)], dtype=tl.uint32,
                                     is_pure=False, pack=1)  # fmt: skip


@triton.jit
def _stamp_tables(tables, zero, ptrs, sampled):
    """_stamp once a group's row tables (_row_tables', [BN] each) are there: at ptrs [BN, BW] where sampled."""
    lo0 = tl.broadcast_to(tables[0][:, None], ptrs.shape).to(tl.float32, bitcast=True)
    return _stamp(lo0, zero, ptrs, sampled)


@triton.jit
def _now(zero):
    """(clock, globaltimer low 32 bits, smid) of the program, read at once (scalars)."""
    clock = tl.inline_asm_elementwise("mov.u32 $0, %clock;", "=r,r", [zero], dtype=tl.uint32, is_pure=False, pack=1)
    timer = tl.inline_asm_elementwise("mov.u32 $0, %globaltimer_lo;", "=r,r", [zero], dtype=tl.uint32, is_pure=False,
                                      pack=1)  # fmt: skip
    smid = tl.inline_asm_elementwise("mov.u32 $0, %smid;", "=r,r", [zero], dtype=tl.uint32, is_pure=False, pack=1)
    return clock, timer, smid


@triton.jit
def _stamped_prmt_kernel(
    x_ptr, codes_ptr, lut_ptr, slot_ptr, y_ptr, stamp_ptr, zero_ptr,
    N, K, KW, GS, stride_cw, stride_ls, stride_ln,
    BITS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, NBLOCKS: tl.constexpr,
    STAMP_EVERY: tl.constexpr, PDL: tl.constexpr = False, PARTS: tl.constexpr = False, AHEAD: tl.constexpr = False,
    PREFETCH: tl.constexpr = 1,
):  # fmt: skip
    """_decode_prmt_kernel with X_VEC, HALF2, ASM, PREFETCH 1-3, one K range (the whole row), plus stamps.
    stamp_ptr: uint32 [programs, 3 + (2 NBLOCKS + 3) * BN * BW / STAMP_EVERY] (and one row more, whose last element
    is zero_ptr's 0): start clock, start globaltimer, smid, then per block, the end and (PARTS) the first block's
    words, the first tables and each later group's tables the sampled threads' clocks. PARTS stamps when the first
    block's words, then the first group's tables, are there, before the loop (where the first lookups wait on both
    anyway), and each later group's tables where its first lookups would wait on them. AHEAD: each later group's
    entries loaded a group ahead (the first two groups' before the loop), as the sixtieth session's TABLES_AHEAD."""
    L: tl.constexpr = 1 << BITS
    BW: tl.constexpr = BLOCK_K // 8
    SAMPLES: tl.constexpr = BLOCK_N * BW // STAMP_EVERY
    ROW: tl.constexpr = 3 + (2 * NBLOCKS + 3) * SAMPLES
    pid = tl.program_id(0)
    zero = tl.load(zero_ptr)  # 0, unknown to the compiler
    clock0, timer0, smid = _now(zero)
    rows, rows_c, wj, row_words, k_start, k_end = _row_block(codes_ptr, N, K, stride_cw, K, BLOCK_N, BW)
    nxt1 = _load_words(row_words, k_start, wj, KW)
    nxt2 = _load_words(row_words, k_start + BLOCK_K, wj, KW) if PREFETCH >= 2 else nxt1
    nxt3 = _load_words(row_words, k_start + 2 * BLOCK_K, wj, KW) if PREFETCH >= 3 else nxt2
    slot = tl.load(slot_ptr).to(tl.int64)
    lut_rows = slot * stride_ls + rows_c.to(tl.int64) * stride_ln
    pairs_ptr = lut_ptr.to(tl.pointer_type(tl.uint32), bitcast=True)
    tables_first = _row_tables(pairs_ptr, lut_rows, BITS, True)
    last_group = (K - 1) // GS
    if AHEAD:
        pairs_next = _row_pairs(pairs_ptr, lut_rows + tl.minimum(1, last_group) * L, BITS)
    pdl_wait(PDL)
    out = stamp_ptr + pid.to(tl.int64) * ROW
    tl.store(out, clock0)
    tl.store(out + 1, timer0)
    tl.store(out + 2, smid)
    sampled = (tl.arange(0, BLOCK_N)[:, None] * BW + wj[None, :]) % STAMP_EVERY == 0  # [BN, BW]
    slot_of = (tl.arange(0, BLOCK_N)[:, None] * BW + wj[None, :]) // STAMP_EVERY
    if PARTS:
        _stamp(nxt1.to(tl.float32, bitcast=True), zero, out + 3 + (NBLOCKS + 1) * SAMPLES + slot_of, sampled)
        _stamp_tables(tables_first, zero, out + 3 + (NBLOCKS + 2) * SAMPLES + slot_of, sampled)

    acc = tl.zeros((BLOCK_N, BW), dtype=tl.float32)
    blk = 0
    for g in range(0, (K - 1) // GS + 1):
        lo = g * GS
        hi = tl.minimum(g * GS + GS, K)
        if g == 0:
            tables = tables_first
        else:
            if AHEAD:
                tables = _pair_tables(pairs_next, True)
                pairs_next = _row_pairs(pairs_ptr, lut_rows + tl.minimum(g + 1, last_group) * L, BITS)
            else:
                tables = _row_tables(pairs_ptr, lut_rows + g * L, BITS, True)
            if PARTS:
                _stamp_tables(tables, zero, out + 3 + (NBLOCKS + 2 + g) * SAMPLES + slot_of, sampled)
        for kb0 in range((lo // BLOCK_K) * BLOCK_K, hi, BLOCK_K):
            words, nxt1, nxt2, nxt3 = _next_block(nxt1, nxt2, nxt3, row_words, kb0, wj, KW, BLOCK_K, PREFETCH)
            acc = _block_sum(acc, words, tables, x_ptr, kb0, wj, lo, hi, K, BLOCK_N, BLOCK_K, False, True, True,
                             True)  # fmt: skip
            _stamp(acc, zero, out + 3 + blk * SAMPLES + slot_of, sampled)
            blk += 1

    row_sums = tl.sum(acc, axis=1)  # [BN]
    tl.store(y_ptr + rows[None, :], row_sums[None, :].to(y_ptr.dtype.element_ty), mask=(rows < N)[None, :])
    _stamp(tl.broadcast_to(row_sums[:, None], (BLOCK_N, BW)), zero, out + 3 + NBLOCKS * SAMPLES + slot_of, sampled)


def launch_stamped(x, codes, pool, slots, y, stamps, config: dict) -> None:
    n, k = codes.shape[0], x.shape[1]
    gs = k // pool.shape[2]
    bn, bk = config["BLOCK_N"], config["BLOCK_K"]
    _stamped_prmt_kernel[(triton.cdiv(n, bn),)](
        x, codes, pool, slots, y, stamps, stamps[-1:, -1:],
        n, k, codes.shape[1] // 4, gs, codes.stride(0) // 4, pool.stride(0), pool.stride(1),
        BITS=BITS, BLOCK_N=bn, BLOCK_K=bk, NBLOCKS=k // bk, STAMP_EVERY=STAMP_EVERY,
        PARTS=bool(config.get("PARTS", 0)), AHEAD=bool(config.get("AHEAD", 0)), PREFETCH=config["PREFETCH"],
        num_warps=config["num_warps"], num_stages=1, **pdl_args(x.device),
    )  # fmt: skip


def _ns(clock: int, origin: int, base_ns: float, clock_ghz: float) -> float:
    """A clock reading of an SM as ns since the kernel's first start (the SM's origin clock at base_ns)."""
    return base_ns + ((clock - origin) % (1 << 32)) / clock_ghz


def phases(stamps: torch.Tensor, nblocks: int, samples: int, clock_ghz: float) -> dict:
    """Per program, in ns from the kernel's first program start (programs on one SM share its clock; SMs are
    aligned by their first program's globaltimer): start, each block's last sampled thread, end."""
    s = stamps[:-1].to(torch.int64).cpu() % (1 << 32)  # the last row holds the zero the kernel reads
    clock0, timer0, smid = s[:, 0], s[:, 1], s[:, 2]
    # [programs, blocks + end + words + tables + later groups' tables (up to nblocks - 1)] clocks
    marks = s[:, 3:].view(-1, 2 * nblocks + 3, samples).amax(dim=2)
    out = {"start": [], "blocks": [], "end": [], "sm": [], "words0": [], "tables0": [], "tables_later": []}
    first_timer = timer0.min().item()
    for sm in smid.unique().tolist():
        on = (smid == sm).nonzero().flatten()
        ref = on[clock0[on].argmin()]  # the SM's first program: its clock and timer are the SM's origin
        base_ns = (timer0[ref] - first_timer).item() % (1 << 32)
        origin = clock0[ref].item()
        for p in on.tolist():
            out["start"].append(_ns(clock0[p].item(), origin, base_ns, clock_ghz))
            out["blocks"].append([_ns(c, origin, base_ns, clock_ghz) for c in marks[p, :nblocks].tolist()])
            out["end"].append(_ns(marks[p, nblocks].item(), origin, base_ns, clock_ghz))
            out["sm"].append(sm)
            if marks[p, nblocks + 1].item():  # PARTS
                out["words0"].append(_ns(marks[p, nblocks + 1].item(), origin, base_ns, clock_ghz))
                out["tables0"].append(_ns(marks[p, nblocks + 2].item(), origin, base_ns, clock_ghz))
                out["tables_later"].append([_ns(c, origin, base_ns, clock_ghz)
                                            for c in marks[p, nblocks + 3:].tolist() if c])  # fmt: skip
    return out


def summary(ph: dict) -> dict:
    starts, ends = ph["start"], ph["end"]
    blocks = list(zip(*ph["blocks"], strict=True))
    return {
        "programs": len(starts),
        "start_ns": {"median": statistics.median(starts), "max": max(starts)},
        "block_done_ns": [statistics.median(b) for b in blocks],
        "block_done_max_ns": [max(b) for b in blocks],
        "first_block_after_start_ns": statistics.median(b0 - s for b0, s in zip(blocks[0], starts, strict=True)),
        "end_ns": {"median": statistics.median(ends), "max": max(ends)},
        **({"words0_after_start_ns": statistics.median(w - s for w, s in zip(ph["words0"], starts, strict=True)),
            "tables0_after_start_ns": statistics.median(t - s for t, s in zip(ph["tables0"], starts, strict=True)),
            # each later group's tables there, after the block before it was done (one block a group: BK = GS)
            "tables_after_block_before_ns": [statistics.median(t[j] - b[j] for t, b in zip(ph["tables_later"],
                                                                                          ph["blocks"], strict=True))
                                             for j in range(len(ph["tables_later"][0]))]}
           if ph["words0"] else {}),
    }  # fmt: skip


def stamped_runs(launch, stamps: torch.Tensor, nblocks: int, samples: int) -> tuple[list[dict], dict, float]:
    """LAUNCHES launches of a stamped kernel (launch() writes stamps), each after a write of twice the L2: (each
    launch's summary, the middle launch's phases, the SM clock's GHz measured right after them)."""
    flush = torch.empty(2 * torch.cuda.get_device_properties(0).L2_cache_size, dtype=torch.uint8, device="cuda")
    runs = []
    for _ in range(LAUNCHES):
        flush.zero_()
        launch()
        torch.cuda.synchronize()
        runs.append(stamps.clone())
    ghz = clock_ghz()
    per_launch = [summary(phases(r, nblocks, samples, ghz)) for r in runs]
    return per_launch, phases(runs[len(runs) // 2], nblocks, samples, ghz), ghz


def run_case(n: int, k: int, gpr: int, label: str, config: dict) -> dict:
    layer = Layer(n, k, gpr)
    x, slots = make_batch(1, 1, k)
    codes, pool = layer.codes[0], layer.pools[0]
    nblocks = k // config["BLOCK_K"]
    samples = config["BLOCK_N"] * config["BLOCK_K"] // 8 // STAMP_EVERY
    programs = triton.cdiv(n, config["BLOCK_N"])
    stamps = torch.zeros(programs + 1, 3 + (2 * nblocks + 3) * samples, dtype=torch.int32, device="cuda")
    y = torch.empty(1, n, dtype=torch.float16, device="cuda")
    launch_stamped(x, codes, pool, slots, y, stamps, config)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    err = (y.float() - ref.float()).abs().max().item()
    shipped = config | {"SPLIT_K": 1, "num_stages": 1}
    y2 = torch.empty_like(y)
    t_shipped = graph_us(lambda: launch_decode_prmt(x, codes, pool, slots, BITS, y2, shipped))
    t_stamped = graph_us(lambda: launch_stamped(x, codes, pool, slots, y, stamps, config))
    per_launch, example, ghz = stamped_runs(lambda: launch_stamped(x, codes, pool, slots, y, stamps, config), stamps,
                                            nblocks, samples)  # fmt: skip
    med = lambda key, sub: statistics.median(p[key][sub] for p in per_launch)  # noqa: E731
    row = {
        "N": n, "K": k, "gpr": gpr, "config": label, **config, "err": err, "shipped_us": t_shipped,
        "stamped_us": t_stamped, "clock_ghz": ghz, "launches": per_launch,
        "median": {
            "start_max_ns": med("start_ns", "max"),
            "first_block_after_start_ns": statistics.median(p["first_block_after_start_ns"] for p in per_launch),
            "block_done_ns": [statistics.median(p["block_done_ns"][b] for p in per_launch) for b in range(nblocks)],
            "end_median_ns": med("end_ns", "median"), "end_max_ns": med("end_ns", "max"),
            **({key: statistics.median(p[key] for p in per_launch)
                for key in ("words0_after_start_ns", "tables0_after_start_ns")} if config.get("PARTS") else {}),
            **({"tables_after_block_before_ns": [statistics.median(p["tables_after_block_before_ns"][j]
                                                                   for p in per_launch)
                                                 for j in range(len(per_launch[0]["tables_after_block_before_ns"]))]}
               if config.get("PARTS") else {}),
        },
        "example": example,
    }  # fmt: skip
    m = row["median"]
    print(f"{n}x{k} gpr {gpr} {label}: shipped {t_shipped:.2f} us, stamped {t_stamped:.2f} (err {err:.1e}); "
          f"starts by {m['start_max_ns']:.0f} ns, block 0 {m['first_block_after_start_ns']:.0f} ns after its start, "
          f"blocks done (median) {[round(b) for b in m['block_done_ns']]}, end median {m['end_median_ns']:.0f} "
          f"max {m['end_max_ns']:.0f} ns"
          + (f"; words 0 there {m['words0_after_start_ns']:.0f} ns, tables {m['tables0_after_start_ns']:.0f} ns after "
             f"its start; later groups' tables {[round(t) for t in m['tables_after_block_before_ns']]} ns after the "
             "block before" if config.get("PARTS") else ""), flush=True)  # fmt: skip
    return row


@triton.jit
def _spin_kernel(out_ptr, n):
    """Reads the clock before and after n dependent integer steps."""
    c0 = tl.inline_asm_elementwise("mov.u32 $0, %clock;", "=r,r", [n], dtype=tl.uint32, is_pure=False, pack=1)
    v = n
    for _ in range(n):
        v = v * 1664525 + 1013904223
    c1 = tl.inline_asm_elementwise("mov.u32 $0, %clock;", "=r,r", [v], dtype=tl.uint32, is_pure=False, pack=1)
    tl.store(out_ptr, c1 - c0)
    tl.store(out_ptr + 1, v)


def clock_ghz() -> float:
    """The SM clock's rate (GHz): a one-program spin's clock count over its event time, the fastest of four."""
    out = torch.zeros(2, dtype=torch.int64, device="cuda")
    rates = []
    for _ in range(4):  # the first spins may run while the clocks ramp up from idle: the fastest is the rate
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        _spin_kernel[(1,)](out, 2_000_000)
        end.record()
        end.synchronize()
        rates.append(out[0].item() / (start.elapsed_time(end) * 1e6))
    return max(rates)


def _rounded(value):
    """value with every float to 0.1 (ns, us): the stamps' resolution, not their binary digits, in the JSON."""
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.9 * len(rows)), squeeze=False)
    for ax, row in zip(axes[:, 0], rows, strict=True):
        ex = row["example"]
        order = sorted(range(len(ex["start"])), key=lambda i: ex["start"][i])
        ys = range(len(order))
        ax.scatter([ex["start"][i] / 1e3 for i in order], ys, s=1, label="start")
        for b in range(len(ex["blocks"][0])):
            ax.scatter([ex["blocks"][i][b] / 1e3 for i in order], ys, s=1, label=f"block {b} done")
        ax.scatter([ex["end"][i] / 1e3 for i in order], ys, s=1, c="k", label="end")
        ax.set_title(f"{row['N']}x{row['K']} gpr {row['gpr']}, {row['config']}: {row['shipped_us']:.1f} us "
                     f"(stamped {row['stamped_us']:.1f})", fontsize=9)  # fmt: skip
        ax.set_ylabel("program")
        ax.set_xlim(left=0)
    axes[-1, 0].set_xlabel("us since the first program started (one launch after an L2 flush)")
    axes[0, 0].legend(fontsize=7, markerscale=6, loc="lower right")
    fig.suptitle(f"One token's decode program by program ({result['gpu']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def save(rows: list[dict], path: Path) -> None:
    """The rows (floats to 0.1), the GPU's name and Triton's version as JSON at path, and their plot beside it."""
    result = {"gpu": torch.cuda.get_device_name(), "triton": triton.__version__, "rows": _rounded(rows)}
    path.write_text(json.dumps(result, separators=(",", ":")))
    plot(result, path.with_suffix(".png"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--shapes", default="4096x4096,11008x4096")
    ap.add_argument("--gpr", default="1,4")
    ap.add_argument("--configs", default="bn8-w4,bn4-w2,bn8-w8",
                    help="labels of CONFIGS, comma-separated")  # fmt: skip
    ap.add_argument("--plot", type=Path, help="re-plot a decode_timeline.json")
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
                rows.append(run_case(n, k, gpr, label, CONFIGS[label]))
    save(rows, args.out / "decode_timeline.json")


if __name__ == "__main__":
    main()
