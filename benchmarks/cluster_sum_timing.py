"""What does the split-K epilogue cost through a cluster's shared memory, against through global memory? (GPU)

The fragment kernel's split-K epilogue (kernels/triton_common.store_split_k's scheme) costs ~1.8 us of ~9.5 at 4
tokens on the H100: each program stores its fp32 partial, arrives on an atomic counter, and the last one loads every
partial back. benchmarks/cluster_sum_probe.py showed that Gluon lowers a layout conversion across a cluster's CTAs to
distributed shared memory; this times that sum against the global one, with nothing else in the kernels:

- `store`: each of the SPLIT programs of a column tile loads its partial [M, BN] and stores it (the floor: no sum);
- `global`: the same, then the production epilogue (store_split_k: workspace, counter, the last program sums);
- `cluster`: the SPLIT programs of a tile as one cluster; the partials meet in the peers' shared memory and each CTA
  sums and stores its BN / SPLIT columns (a layout conversion: STS, cluster barrier, DSMEM loads, cluster barrier);
- `push`: the same cluster, each CTA pushing every column share of its partial into the owner CTA's shared memory
  (st.async, which counts its bytes on the owner's mbarrier); each owner waits on its own mbarrier only, with no
  cluster barrier between (the compiler adds a relaxed one after the mbarriers' init, and one at the kernel's end);
- `push_asm`: the push in plain Triton and inline PTX (any Triton: the device's 3.6 too), the buffer and mbarrier
  declared inside the asm and the kernel, compiled as one CTA, launched as clusters (as_cluster); no end barrier.

Each kernel is launched LAUNCHES times in one CUDA graph; a launch's time is the replay's over LAUNCHES, all in
turns for ROUNDS rounds (the median is printed). The epilogue's cost is a kernel's time over `store`'s. `cluster`
and `push` need Triton >= 3.9 (--sums picks the kernels).
Usage: python benchmarks/cluster_sum_timing.py [--n 4096] [--m 4] [--out results/cluster_sum.json]
       python benchmarks/cluster_sum_timing.py --plot results/cluster_sum_*.json --png cluster_sum.png (no GPU)
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
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia import hopper
from triton.experimental.gluon.language.nvidia.hopper import mbarrier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kernels.split_k_push import WAIT, as_cluster, push_setup_asm, send_asm  # noqa: E402
from kernels.triton_common import arrival_counters, store_split_k  # noqa: E402

LAUNCHES = 50
ROUNDS = 9


def over_ctas(split: int, dim: int, bn: int = 128) -> gl.BlockedLayout:
    """A 4-warp [SPLIT, M, BN] layout whose SPLIT CTAs each hold one split (dim 0) or a contiguous BN / SPLIT share
    of the columns (dim 2); BN / 32 contiguous columns a thread (at most 4) when whole splits are held, so that no
    element is held twice (push's st.async would count its bytes twice)."""
    bases = [[1 << i, 0, 0] if dim == 0 else [0, 0, 1 << i] for i in range(split.bit_length() - 1)]
    per_thread = [1, 1, min(4, bn // 32)] if dim == 0 else [1, 1, 1]
    return gl.BlockedLayout(per_thread, [1, 1, 32], [1, 4, 1], [2, 1, 0], cga_layout=bases)


@gluon.jit
def _cluster_partials(parts_ptr, N, tile, SPLIT: gl.constexpr, M: gl.constexpr, BN: gl.constexpr,
                      BY_SPLIT: gl.constexpr):  # fmt: skip
    """parts[:, :, tile:tile + BN] ([SPLIT, M, BN] fp32) in BY_SPLIT: one split a CTA of the cluster."""
    s = gl.arange(0, SPLIT, layout=gl.SliceLayout(1, gl.SliceLayout(2, BY_SPLIT)))
    m = gl.arange(0, M, layout=gl.SliceLayout(0, gl.SliceLayout(2, BY_SPLIT)))
    n = gl.arange(0, BN, layout=gl.SliceLayout(0, gl.SliceLayout(1, BY_SPLIT)))
    return gl.load(parts_ptr + s[:, None, None] * (M * N) + m[None, :, None] * N + (tile + n)[None, None, :])


@gluon.jit
def _store_cluster_sum(y_ptr, N, tile, total, M: gl.constexpr, BN: gl.constexpr, BY_COLS: gl.constexpr):
    """y[:, tile:tile + BN] <- total ([M, BN], summed over the splits in BY_COLS: each CTA its BN / SPLIT columns)."""
    m = gl.arange(0, M, layout=gl.SliceLayout(1, gl.SliceLayout(0, BY_COLS)))
    n = gl.arange(0, BN, layout=gl.SliceLayout(0, gl.SliceLayout(0, BY_COLS)))
    gl.store(y_ptr + m[:, None] * N + (tile + n)[None, :], total)


@gluon.jit
def sum_in_cluster(parts_ptr, y_ptr, N, SPLIT: gl.constexpr, M: gl.constexpr, BN: gl.constexpr,
                   BY_SPLIT: gl.constexpr, BY_COLS: gl.constexpr):  # fmt: skip
    """y[:, tile] <- parts[:, :, tile].sum(0) for the cluster's column tile; parts [SPLIT, M, N] fp32, one split a
    CTA as loaded (BY_SPLIT), summed after a conversion through distributed shared memory (BY_COLS)."""
    tile = gl.program_id(0) * BN
    parts = _cluster_partials(parts_ptr, N, tile, SPLIT, M, BN, BY_SPLIT)
    total = gl.sum(gl.convert_layout(parts, BY_COLS), axis=0)  # [M, BN], each CTA its BN / SPLIT columns
    _store_cluster_sum(y_ptr, N, tile, total, M, BN, BY_COLS)


def shared_by_cols(split: int) -> gl.SwizzledSharedLayout:
    """Shared memory for a [SPLIT, M, BN] tile whose SPLIT CTAs each hold a contiguous BN / SPLIT share of the columns
    (every split's): where `push` sends each column share."""
    bases = [[0, 0, 1 << i] for i in range(split.bit_length() - 1)]
    return gl.SwizzledSharedLayout(1, 1, 1, [2, 1, 0], cga_layout=bases)


@gluon.jit
def sum_by_push(parts_ptr, y_ptr, N, SPLIT: gl.constexpr, M: gl.constexpr, BN: gl.constexpr,
                BY_SPLIT: gl.constexpr, BY_COLS: gl.constexpr, SHARED: gl.constexpr):  # fmt: skip
    """sum_in_cluster's sum with the partials pushed: each CTA st.async-stores its split's columns into their owners'
    shared memory (SHARED, split over the CTAs by columns), each owner waiting on its own mbarrier for its
    M x BN / SPLIT x SPLIT fp32 (M BN 4 bytes), then summing its columns."""
    tile = gl.program_id(0) * BN
    parts = _cluster_partials(parts_ptr, N, tile, SPLIT, M, BN, BY_SPLIT)
    bar = mbarrier.allocate_mbarrier()  # one a CTA
    mbarrier.init(bar, count=1)
    mbarrier.expect(bar, M * BN * 4)  # the bytes every CTA of the cluster sends this one
    buf = gl.allocate_shared_memory(gl.float32, [SPLIT, M, BN], SHARED)
    hopper.async_store(buf, parts, bar)
    mbarrier.wait(bar, 0)
    total = gl.sum(buf.load(BY_COLS), axis=0)
    _store_cluster_sum(y_ptr, N, tile, total, M, BN, BY_COLS)


def push_asm(m: int, bn: int, split: int, warps: int = 4) -> dict:
    """The inline PTX of sum_by_push_asm at (M, BN, SPLIT): SETUP (the CTA's push buffer and mbarrier, declared
    inside the asm as static shared memory, plain Triton having no way to allocate it; the mbarrier's init and
    expect-tx, then a relaxed cluster barrier so that no peer pushes before the init), SEND (VEC values into the
    owner CTA's buffer by st.async, counted on its mbarrier), WAIT (the mbarrier's phase 0) and RECV (one column
    element's SPLIT partials from the buffer, summed)."""
    share = bn // split
    vec = min(4, m * bn // (32 * warps))
    assert m * bn % (32 * warps * vec) == 0 and share % vec == 0, "a thread's chunks of VEC columns, each one owner's"
    nbytes = m * bn * 4  # every split's M x BN / SPLIT partials, fp32: what each owner receives
    setup = push_setup_asm(nbytes)
    send, send_constraints = send_asm(vec)
    wait = WAIT.value
    loads = " ".join(f"ld.shared.f32 b, [q+{s * m * share * 4}]; add.f32 a, a, b;" for s in range(1, split))
    recv = f"{{ .reg .f32 a, b; .reg .b32 q; add.u32 q, $1, $2; ld.shared.f32 a, [q]; {loads} mov.f32 $0, a; }}"
    return {"SETUP": setup, "SEND": send, "WAIT": wait, "RECV": recv, "VEC": vec,
            "SEND_CONSTR": send_constraints}  # fmt: skip


@triton.jit
def sum_by_push_asm(parts_ptr, y_ptr, N, SPLIT: tl.constexpr, M: tl.constexpr, BN: tl.constexpr,
                    NT: tl.constexpr, VEC: tl.constexpr, SETUP: tl.constexpr, SEND: tl.constexpr,
                    SEND_CONSTR: tl.constexpr, WAIT: tl.constexpr, RECV: tl.constexpr):  # fmt: skip
    """sum_by_push's sum in plain Triton and inline PTX, for a kernel compiled as one CTA and launched as clusters
    of SPLIT (as_cluster): program tile x SPLIT + rank holds split rank's partial of column tile `tile`, one NT-lane
    tensor (one element a thread) per value; it pushes each VEC-column chunk into the owner CTA (its BN / SPLIT
    columns), waits for its own share of every split, sums it and stores y."""
    pid = tl.program_id(0)
    tile = pid // SPLIT
    rank = pid % SPLIT  # = %cluster_ctarank: clusters of SPLIT consecutive programs along x
    SHARE: tl.constexpr = BN // SPLIT
    lane = tl.arange(0, NT)
    buf, bar = tl.inline_asm_elementwise(SETUP, "=r,=r,r", [lane], dtype=(tl.int32, tl.int32), is_pure=False,
                                         pack=1)  # fmt: skip
    sent = lane * 0
    for i in tl.static_range(M * BN // (NT * VEC)):
        e = (i * NT + lane) * VEC  # the chunk's first element of the [M, BN] partial
        m = e // BN
        c = e % BN
        src = parts_ptr + rank * M * N + m * N + tile * BN + c
        owner = c // SHARE
        off = ((rank * M + m) * SHARE + c % SHARE) * 4
        if VEC == 4:
            done = tl.inline_asm_elementwise(SEND, SEND_CONSTR, [tl.load(src), tl.load(src + 1), tl.load(src + 2),
                                             tl.load(src + 3), buf, off, owner, bar], dtype=tl.int32, is_pure=False,
                                             pack=1)  # fmt: skip
        elif VEC == 2:
            done = tl.inline_asm_elementwise(SEND, SEND_CONSTR, [tl.load(src), tl.load(src + 1), buf, off, owner,
                                             bar], dtype=tl.int32, is_pure=False, pack=1)  # fmt: skip
        else:
            done = tl.inline_asm_elementwise(SEND, SEND_CONSTR, [tl.load(src), buf, off, owner, bar], dtype=tl.int32,
                                             is_pure=False, pack=1)  # fmt: skip
        sent = sent + done
    ready = tl.inline_asm_elementwise(WAIT, "=r,r,r", [bar, sent], dtype=tl.int32, is_pure=False, pack=1)
    for i in tl.static_range((M * SHARE + NT - 1) // NT):
        e = i * NT + lane  # element (m, column) of this CTA's share
        mine = e < M * SHARE
        total = tl.inline_asm_elementwise(RECV, "=f,r,r,r", [buf, tl.minimum(e, M * SHARE - 1) * 4 + ready * 0,
                                          ready], dtype=tl.float32, is_pure=False, pack=1)  # fmt: skip
        tl.store(y_ptr + (e // SHARE) * N + tile * BN + rank * SHARE + e % SHARE, total, mask=mine)


@triton.jit
def sum_in_global(parts_ptr, y_ptr, ws_ptr, counter_ptr, N, SPLIT: tl.constexpr, M: tl.constexpr, BN: tl.constexpr,
                  SUM: tl.constexpr):  # fmt: skip
    """Program (tile, split) loads parts[split, :, tile]; SUM: the production split-K epilogue into y (workspace
    ws [SPLIT, M, N], counters [tiles]); else only its partial stored into ws (the floor)."""
    pid_n, pid_k = tl.program_id(0), tl.program_id(1)
    offs = tl.arange(0, M)[:, None] * N + (pid_n * BN + tl.arange(0, BN))[None, :]
    acc = tl.load(parts_ptr + pid_k * M * N + offs)
    if SUM:
        store_split_k(acc, offs, offs, offs >= 0, y_ptr, ws_ptr, counter_ptr, pid_n, pid_k, M, N, SPLIT, True)
    else:
        tl.store(ws_ptr + pid_k * M * N + offs, acc)


def graph_of(launch, launches: int) -> torch.cuda.CUDAGraph:
    """launches back-to-back calls of launch() captured in one graph (after one eager call that compiles it)."""
    launch()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(launches):
            launch()
    return graph


def replay_us(graph: torch.cuda.CUDAGraph, launches: int) -> float:
    """One launch's time in a replay of graph, in microseconds."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1000 / launches


SUMS = ("global", "cluster", "push", "push_asm")  # every sum time_case can time ("store" is the floor)


def push_asm_launch(parts: torch.Tensor, y: torch.Tensor, n: int, m: int, bn: int, split: int):
    """sum_by_push_asm compiled (without a launch: as one CTA it would wait forever) and made a cluster launch;
    returns its launch."""
    tiles, asm = n // bn, push_asm(m, bn, split)
    args = (parts, y, n, split, m, bn, 128, asm["VEC"], asm["SETUP"], asm["SEND"], asm["SEND_CONSTR"], asm["WAIT"],
            asm["RECV"])  # fmt: skip
    as_cluster(sum_by_push_asm.warmup(*args, grid=(tiles,), num_warps=4), split)
    return lambda: sum_by_push_asm[(tiles,)](*args, num_warps=4)


def time_case(n: int, m: int, bn: int, split: int, sums: tuple[str, ...] = SUMS) -> dict:
    """The kernels' medians (us a launch) at one (N, M, BN, SPLIT): the store-only floor and sums, each sum checked
    against torch first."""
    dev = torch.device("cuda")
    parts = torch.randn(split, m, n, device=dev)
    want = parts.sum(0)
    y = {k: torch.full((m, n), float("nan"), device=dev) for k in sums}
    ws = torch.empty(split, m, n, device=dev)
    counters = arrival_counters(dev, n // bn)
    tiles = n // bn
    launches = {
        "store": lambda: sum_in_global[(tiles, split)](parts, ws, ws, counters, n, split, m, bn, False),
        "global": lambda: sum_in_global[(tiles, split)](parts, y["global"], ws, counters, n, split, m, bn, True),
        "cluster": lambda: sum_in_cluster[(tiles,)](parts, y["cluster"], n, split, m, bn, over_ctas(split, 0, bn),
                                                    over_ctas(split, 2), num_warps=4, num_ctas=split),
        "push": lambda: sum_by_push[(tiles,)](parts, y["push"], n, split, m, bn, over_ctas(split, 0, bn),
                                              over_ctas(split, 2), shared_by_cols(split), num_warps=4,
                                              num_ctas=split),
    }  # fmt: skip
    if "push_asm" in sums:
        launches["push_asm"] = push_asm_launch(parts, y["push_asm"], n, m, bn, split)
    launches = {name: launch for name, launch in launches.items() if name == "store" or name in sums}
    for name in sums:
        launches[name]()
        torch.cuda.synchronize()
        err = (y[name] - want).abs().max().item()
        assert err < 1e-4, f"{name} sum off by {err} (N {n}, M {m}, BN {bn}, SPLIT {split})"
    graphs = {name: graph_of(launch, LAUNCHES) for name, launch in launches.items()}
    times: dict[str, list[float]] = {name: [] for name in graphs}
    for _ in range(ROUNDS):
        for name, graph in graphs.items():
            times[name].append(replay_us(graph, LAUNCHES))
    return {"n": n, "m": m, "bn": bn, "split": split} | {k: statistics.median(v) for k, v in times.items()}


def plot(runs: list[Path], png: Path) -> None:
    """Each case's epilogue cost (us over the store-only floor), global against cluster, from runs' JSON files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [json.loads(run.read_text()) for run in runs]
    rows = [row for run in data for row in run["rows"]]
    labels = [f"N {r['n']}\nM {r['m']} BN {r['bn']}\nsplit {r['split']}" for r in rows]
    xs = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(rows)), 4))
    names = [name for name in SUMS if name in rows[0]]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        shift = (i - (len(names) - 1) / 2) * width
        ax.bar([x + shift for x in xs], [r[name] - r["store"] for r in rows], width=width, label=name)
    ax.set_xticks(list(xs), labels, fontsize=6)
    ax.set_ylabel("split-K sum over the store-only floor (us)")
    ax.set_title(f"{data[0]['device']}, triton {data[0]['triton']}: the split-K sum's cost", fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--m", type=int, default=4)
    ap.add_argument("--splits", default="2,4", help="cluster sizes, comma-separated (at most 8 on Hopper)")
    ap.add_argument("--sums", default=",".join(SUMS), help=f"which of {SUMS} to time (Triton 3.6: global,push_asm)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--plot", type=Path, nargs="+", default=None, help="JSON files of earlier runs: plot them only")
    ap.add_argument("--png", type=Path, default=Path("cluster_sum.png"))
    args = ap.parse_args()
    if args.plot:
        plot(args.plot, args.png)
        return
    print(f"{torch.cuda.get_device_name()}, triton {triton.__version__}; us a launch, {LAUNCHES} launches a graph")
    rows = []
    for bn in (64, 128):
        for split in map(int, args.splits.split(",")):
            row = time_case(args.n, args.m, bn, split, tuple(args.sums.split(",")))
            rows.append(row)
            sums = ", ".join(f"{k} {row[k]:.2f} (+{row[k] - row['store']:.2f})" for k in SUMS if k in row)
            print(f"N {row['n']} M {row['m']} BN {bn:3d} SPLIT {split}: store {row['store']:.2f}, {sums}")
    if args.out:
        args.out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "triton": triton.__version__,
                                        "rows": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
