"""Multi-LUT linear kernels vs fp16 cuBLAS, gather-then-matmul and per-token LoRA, at Llama-2-7B shapes.

    python3 benchmarks/bench_kernels.py --out OUT_DIR [--sweep] [--shapes 4096x4096,...] [--no-main] [--tell-tasks]
                                        [--decode-cases 1:1,16:16]
    python3 benchmarks/bench_kernels.py --sm90 [bucket|prmt|mma|prefill]    (no GPU needed: compile kernels for sm_90,
                                                    print registers, spills and the inner loop's SASS mix)

Per case: microseconds, eagerly (triton.testing.do_bench median; it flushes L2 before each rep, and inputs
rotate over several copies) and replayed from CUDA graphs (20 calls in one graph, L2 flushed before each:
kernels/timing.py, "graph_timer" in the JSON); best_us, the faster kernel's graph time (what
the server runs; eager times include the host's launch), and from it the achieved GB/s, the speedup over cuBLAS
(graph) and the ratio to the bandwidth floor
    floor = (codes bytes + distinct tasks x LUT bytes + x bytes + y bytes) / measured D2D copy bandwidth.
Writes OUT_DIR/kernels.json (progressively) and OUT_DIR/kernels.png; --sweep also times every
candidate config of the decode/prefill kernels on a few cases (OUT_DIR/kernels_sweep.json).
Decode cases also time the bucket-sum kernel (bucket_us, bucket_graph_us: lut_linear_forward forced to
decode_kernel="bucket"); ours_* stay the default dispatch (the gather kernel unless the process sets
SKETCHSERVE_DECODE_KERNEL: the bench passes no task count).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import SlotSegments, autotune, pack_codes  # noqa: E402
from kernels.reference import dequantize, lut_linear_reference  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402
from kernels.triton_bucket import bucket_candidates, k_order_flags, launch_bucket  # noqa: E402
from kernels.triton_decode import (  # noqa: E402
    MODE_DOT,
    MODE_DOT_SWAP,
    MODE_FMA,
    MODE_MMA,
    MODE_PRMT,
    MODE_PRMT_DOT,
    decode_candidates,
    launch_decode,
    split_for,
)
from kernels.triton_decode_prmt import launch_decode_prmt, launch_decode_prmt_dot  # noqa: E402
from kernels.triton_ops import _m_bucket, _shape_key, lut_linear_backward, lut_linear_forward  # noqa: E402
from kernels.triton_prefill import launch_prefill  # noqa: E402

BITS = 4
RANK = 16
ROTATE = 3
SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]  # (N, K): q/o, gate/up, down
DECODE = [(b, t) for b in (1, 4, 16, 64) for t in (1, 4, 16) if t <= b]
PREFILL = [(m, t) for m in (512, 2048) for t in (1, 8)]


def bench(fn, rep=100) -> float:
    import triton.testing

    return triton.testing.do_bench(fn, warmup=20, rep=rep, return_mode="median") * 1e3  # us


def graph_us(fn, reps: int = 20) -> float:
    """Microseconds per call replayed from a CUDA graph, L2 cold (kernels/timing.py): what the autotuner and the
    server's decode graphs see, without the host's launch time that eager timing (bench) includes."""
    return graph_time_ms(fn, reps=reps) * 1e3


def turns_us(launches: dict, rounds: int = 3) -> dict:
    """Median graph microseconds of each label's launch, the launches timed in turns (label after label, `rounds`
    times), so that a drift of the GPU's clocks over the run touches every label alike."""
    times: dict = {label: [] for label in launches}
    for _ in range(rounds):
        for label, launch in launches.items():
            times[label].append(graph_us(launch))
    return {label: statistics.median(v) for label, v in times.items()}


def rotating(fns):
    state = {"i": 0}

    def call():
        state["i"] = (state["i"] + 1) % len(fns)
        return fns[state["i"]]()

    return call


def copy_bandwidth() -> float:
    """Bytes read + written per second of a 1 GiB device-to-device copy."""
    src = torch.empty(1 << 29, dtype=torch.float16, device="cuda").normal_()
    dst = torch.empty_like(src)
    us = bench(lambda: dst.copy_(src))
    return 2 * src.numel() * 2 / (us * 1e-6)


class Layer:
    """ROTATE copies of one layer's codes, LUT pool (16 slots) and dense fp16 weight."""

    def __init__(self, n, k, gpr, slots=16):
        self.n, self.k, self.gpr = n, k, gpr
        self.codes, self.pools, self.weights = [], [], []
        for _ in range(ROTATE):
            codes = torch.randint(0, 2**BITS, (n, k), device="cuda")
            self.codes.append(pack_codes(codes, BITS))
            self.pools.append((torch.randn(slots, n, gpr, 2**BITS, device="cuda") * 0.02).half())
        for _ in range(ROTATE):
            self.weights.append((torch.randn(n, k, device="cuda") * 0.02).half())
        self.lora_a = [(torch.randn(slots, k, RANK, device="cuda") * 0.02).half() for _ in range(ROTATE)]
        self.lora_b = [(torch.randn(slots, RANK, n, device="cuda") * 0.02).half() for _ in range(ROTATE)]

    def floor_bytes(self, m, tasks):
        codes = self.codes[0].numel()
        lut = tasks * self.n * self.gpr * 2**BITS * 2
        return codes + lut + m * self.k * 2 + m * self.n * 2


def layers(shapes=SHAPES, gprs=(1, 4)):
    """(N, K, gpr, Layer) for each shape and gpr in turn (a device script's loop over the kernel table's layers),
    the GPU's cache emptied between them: at most two layers at once (the caller's name holds one until the next)."""
    for n, k in shapes:
        for gpr in gprs:
            yield n, k, gpr, Layer(n, k, gpr)
            torch.cuda.empty_cache()


def make_batch(m, tasks, k):
    x = torch.randn(m, k, device="cuda").half()
    slots = (torch.arange(m, device="cuda") % tasks).to(torch.int32)  # tasks interleaved in the batch
    return x, slots


def ours_fns(layer, x, slots, segments=None, decode_kernel=None, num_tasks=None):
    """The op on each rotated copy of the layer (num_tasks: the batch's distinct tasks, as the engine passes them;
    None, as the kernel table times it: the op's choice without the task-count classes)."""
    return [
        (lambda i=i: lut_linear_forward(
            x, layer.codes[i], layer.pools[i], slots, BITS, segments, decode_kernel=decode_kernel,
            num_tasks=num_tasks))
        for i in range(ROTATE)
    ]  # fmt: skip


def cublas_fns(layer, x):
    return [(lambda i=i: x @ layer.weights[i].T) for i in range(ROTATE)]


def gather_fns(layer, x, rows_of_task):
    """Rebuild W per task from codes + LUT (fp16), then one matmul per task: the paper's code path."""

    def one(i):
        y = torch.empty(x.shape[0], layer.n, dtype=x.dtype, device="cuda")
        for t, rows in rows_of_task:
            w = dequantize(layer.codes[i], layer.pools[i][t], BITS, layer.k)  # [N, K] fp16
            y[rows] = x[rows] @ w.T
        return y

    return [(lambda i=i: one(i)) for i in range(ROTATE)]


def lora_fns(layer, x, slots, rows_of_task, per_token):
    """fp16 base + LoRA r=16: per-token gather + bmm (decode) or a loop over task segments (prefill)."""

    def one(i):
        y = x @ layer.weights[i].T
        if per_token:
            a = layer.lora_a[i][slots]  # [M, K, r]
            b = layer.lora_b[i][slots]  # [M, r, N]
            y += torch.bmm(torch.bmm(x[:, None, :], a), b)[:, 0]
        else:
            for t, rows in rows_of_task:
                y[rows] += (x[rows] @ layer.lora_a[i][t]) @ layer.lora_b[i][t]
        return y

    return [(lambda i=i: one(i)) for i in range(ROTATE)]


def backward_fn(layer, x, slots):
    """grad_x and grad_lut of one call (the fine-tuning step's per-layer kernels)."""
    grad_y = torch.randn(x.shape[0], layer.n, device="cuda").half()
    return lambda: lut_linear_backward(grad_y, x, layer.codes[0], layer.pools[0], slots, BITS)


def chosen_config(kernel: str, layer, x) -> dict | None:
    """The config the autotuner picked for this layer and batch (None if it did not tune)."""
    key = _shape_key(x, layer.codes[0], layer.pools[0], BITS, _m_bucket(x.shape[0]))
    return autotune._FAST.get((kernel, key))


def bench_graph(fns) -> float:
    """Microseconds per call of the rotations replayed back to back from one CUDA graph, L2 cold before each
    (graph_us). The server's decode step is one graph of hundreds of such calls; until 2026-11-30 this timed one
    replay of a one-call graph per event pair, which added a graph launch (a few microseconds, cuBLAS's column
    too) that the server does not pay per call."""
    return graph_us(rotating(fns))


def host_us(fns, calls=200) -> float:
    """Host time per eager call (launch overhead of the Python wrapper + Triton launcher)."""
    fns[0]()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for j in range(calls):
        fns[j % len(fns)]()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    return (t1 - t0) / calls * 1e6


def check(layer, x, slots, segments=None, decode_kernel=None, num_tasks=None):
    y = lut_linear_forward(x, layer.codes[0], layer.pools[0], slots, BITS, segments, decode_kernel=decode_kernel,
                           num_tasks=num_tasks)  # fmt: skip
    ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
    err = ((y.float() - ref.float()).norm() / ref.float().norm()).item()
    if not err < 3e-3:
        raise AssertionError(f"kernel output differs from the reference: rel err {err}")
    return err


def main_bench(args, bw, results, out):
    baselines = {}
    for n, k in args.shapes:
        for gpr in (1, 4):
            layer = Layer(n, k, gpr)
            cases = [("decode", m, t) for m, t in args.decode_cases if "decode" in args.phases]
            cases += [("prefill", m, t) for m, t in PREFILL if "prefill" in args.phases]
            for phase, m, tasks in cases:
                x, slots = make_batch(m, tasks, k)
                per = m // tasks
                if phase == "prefill":  # each task's tokens contiguous (one request per task)
                    slots = (torch.arange(m, device="cuda") // per).to(torch.int32)
                    segments = SlotSegments.from_counts(list(range(tasks)), [per] * tasks, "cuda")
                    rows_of_task = [(t, slice(t * per, (t + 1) * per)) for t in range(tasks)]
                else:
                    segments = None
                    rows_of_task = [(t, torch.arange(t, m, tasks, device="cuda")) for t in range(tasks)]
                told = tasks if args.tell_tasks and phase == "decode" else None  # as the engine passes it
                err = check(layer, x, slots, segments, num_tasks=told)
                rec = {"phase": phase, "N": n, "K": k, "gpr": gpr, "M": m, "tasks": tasks, "rel_err": err}
                ours = ours_fns(layer, x, slots, segments, num_tasks=told)
                rec["ours_us"] = bench(rotating(ours))
                rec["ours_graph_us"] = bench_graph(ours)
                rec["ours_host_us"] = host_us(ours)
                if phase == "decode":  # the bucket-sum kernel on the same batch (autotuned like ours)
                    try:
                        rec["bucket_rel_err"] = check(layer, x, slots, decode_kernel="bucket")
                        bucket = ours_fns(layer, x, slots, decode_kernel="bucket")
                        rec["bucket_us"] = bench(rotating(bucket))
                        rec["bucket_graph_us"] = bench_graph(bucket)
                        rec["bucket_config"] = chosen_config("bucket", layer, x)  # which layout the tuner took
                    except Exception as e:  # noqa: BLE001 - record and go on: the main columns still count
                        rec["bucket_error"] = repr(e)[:300]
                        print("bucket kernel failed:", rec["bucket_error"], flush=True)
                if phase == "prefill":
                    # The fused tl.dot kernel alone: per-token slots only (no segments), sorted inside.
                    rec["ours_fused_us"] = bench(rotating(ours_fns(layer, x, slots)))
                    if tasks > 1:  # tokens of the tasks interleaved
                        shuffled = slots[torch.randperm(m, device="cuda")]
                        rec["ours_unsorted_us"] = bench(rotating(ours_fns(layer, x, shuffled)))
                    if n == k == 4096 and gpr == 4 and m == 512:  # backward (fine-tuning), one shape
                        rec["backward_us"] = bench(backward_fn(layer, x, slots), rep=50)
                key = (phase, n, k, m, tasks)
                if key not in baselines:  # cuBLAS and LoRA do not depend on gpr
                    cublas = cublas_fns(layer, x)
                    baselines[key] = {
                        "cublas_us": bench(rotating(cublas)),
                        "cublas_graph_us": bench_graph(cublas),
                        "lora_us": bench(rotating(lora_fns(layer, x, slots, rows_of_task, phase == "decode")), rep=50),
                    }
                rec.update(baselines[key])
                if gpr == 1 or tasks == 1:
                    rec["gather_us"] = bench(rotating(gather_fns(layer, x, rows_of_task)), rep=30)
                nbytes = layer.floor_bytes(m, tasks)
                rec["floor_us"] = nbytes / bw * 1e6
                # the figures of merit from what the server runs (best_graph_us), not the eager timings
                rec["best_us"] = best = best_graph_us(rec)
                rec["gbps"] = nbytes / (best * 1e-6) / 1e9
                rec["floor_ratio"] = best / rec["floor_us"]
                rec["speedup_vs_cublas"] = rec["cublas_graph_us"] / best
                rec["speedup_vs_cublas_eager"] = rec["cublas_us"] / rec["ours_us"]
                rec["tflops"] = 2 * m * n * k / (best * 1e-6) / 1e12
                results["cases"].append(rec)
                print(
                    f"{phase:7s} {n:5d}x{k:<5d} gpr{gpr} M={m:4d} T={tasks:2d}: best {best:6.1f} us"
                    f"  ours {rec['ours_us']:7.1f}"
                    f" (graph {rec['ours_graph_us']:6.1f}, host {rec['ours_host_us']:5.1f})"
                    f"  cuBLAS {rec['cublas_us']:6.1f} (graph {rec['cublas_graph_us']:6.1f})"
                    f"  x{rec['speedup_vs_cublas']:.2f}  floor {rec['floor_us']:5.1f}"
                    f"  fused {rec.get('ours_fused_us', 0):6.1f}"
                    f"  ({rec['floor_ratio']:.2f}x)  LoRA {rec['lora_us']:8.1f}  gather {rec.get('gather_us', 0):8.1f}"
                    f"  bucket {rec.get('bucket_us', 0):6.1f} (graph {rec.get('bucket_graph_us', 0):6.1f},"
                    f" {(rec.get('bucket_config') or {}).get('LAYOUT', 'rows') if phase == 'decode' else '-'})",
                    flush=True,
                )
                out.write_text(json.dumps(results, indent=1))
            del layer
            torch.cuda.empty_cache()


def launch_fn(launch, layer, x, *rest):
    """launch(x, codes, lut_pool, *rest) over the rotating copies of the layer."""
    return rotating([(lambda i=i: launch(x, layer.codes[i], layer.pools[i], *rest)) for i in range(ROTATE)])


# (tokens, distinct tasks) of the decode sweep: the gather/bucket crossover is in task count at M = 16
SWEEP_CASES = [(1, 1), (4, 4), (16, 1), (16, 2), (16, 4), (16, 8), (16, 16), (64, 1), (64, 16)]


def sweep_decode_configs(m, n, k, sms):
    """Decode variants: FMA with register prefetch depths, MMA with Triton pipelining or prefetch."""
    out = []
    if m == 1:  # the register-LUT kernel (4-bit, fp16 LUT here: it applies)
        for bn, bk, warps in ((8, 512, 2), (16, 512, 4), (32, 256, 4), (16, 1024, 4), (32, 512, 8), (64, 256, 8)):
            out.append({"BLOCK_N": bn, "BLOCK_K": bk, "MODE": MODE_PRMT, "num_warps": warps, "num_stages": 1})
        for bn, bk, warps in ((16, 512, 4), (32, 256, 4), (16, 256, 4), (32, 512, 8)):
            for pf in (1, 2, 3):
                out.append({"BLOCK_N": bn, "BLOCK_K": bk, "MODE": MODE_FMA, "num_warps": warps, "num_stages": 1,
                            "PREFETCH": pf})  # fmt: skip
    else:  # the register-LUT tensor-core kernel (blocks dividing the 1,024-column groups of gpr 4 at K = 4096)
        for bn, bk, warps, stages in ((64, 128, 4, 2), (128, 128, 8, 1), (128, 64, 8, 2), (32, 256, 4, 2),
                                      (64, 64, 4, 2), (128, 256, 8, 1)):  # fmt: skip
            if (k // 4) % bk == 0:
                out.append({"BLOCK_N": bn, "BLOCK_K": bk, "MODE": MODE_PRMT_DOT, "num_warps": warps,
                            "num_stages": stages})  # fmt: skip
    modes = [MODE_DOT_SWAP] if m <= 16 else [MODE_DOT_SWAP, MODE_DOT]
    for mode in modes:
        for bn, bk, warps in ((16, 512, 4), (32, 256, 4), (64, 128, 4)):
            for stages, pf in ((3, 0), (4, 0), (1, 2)):
                out.append({"BLOCK_N": bn, "BLOCK_K": bk, "MODE": mode, "num_warps": warps, "num_stages": stages,
                            "PREFETCH": pf})  # fmt: skip
    full = []
    for cfg in out:
        for waves in (1, 2, 4):
            full.append(dict(cfg, SPLIT_K=split_for(n, k, cfg["BLOCK_N"], cfg["BLOCK_K"], waves * sms)))
    return full


PREFILL_SWEEP = [
    {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 3, "PREFETCH": True},
    {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 4, "PREFETCH": False},
    {"BLOCK_M": 256, "BLOCK_N": 128, "BLOCK_K": 64, "num_warps": 8, "num_stages": 3, "PREFETCH": True},
    {"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 128, "num_warps": 8, "num_stages": 3, "PREFETCH": True},
    {"BLOCK_M": 128, "BLOCK_N": 256, "BLOCK_K": 64, "num_warps": 8, "num_stages": 3, "PREFETCH": True},
    {"BLOCK_M": 256, "BLOCK_N": 128, "BLOCK_K": 32, "num_warps": 8, "num_stages": 4, "PREFETCH": True},
    {"BLOCK_M": 128, "BLOCK_N": 64, "BLOCK_K": 128, "num_warps": 4, "num_stages": 3, "PREFETCH": True},
]


def rel_to(y, ref):
    return ((y.float() - ref.float()).norm() / ref.float().norm()).item()


def checked_timings(configs, launch, y, ref, tol: float = 3e-3) -> list[tuple[float, dict, float]]:
    """(graph microseconds, config, relative error) of each config whose launch(config) writes y within tol of ref
    (y poisoned with NaN before each; a wrong or failing config is printed and left out), fastest first."""
    timed = []
    for cfg in configs:
        y.fill_(float("nan"))
        try:
            launch(cfg)
            err = rel_to(y, ref)
            if not err < tol:
                print("WRONG", cfg, err, flush=True)
                continue
            us = graph_us(lambda c=cfg: launch(c))
        except Exception as e:  # noqa: BLE001 - record and go on
            print("failed", cfg, repr(e)[:300], flush=True)
            continue
        timed.append((us, cfg, err))
    return sorted(timed, key=lambda t: t[0])


def dims(text: str) -> list[tuple[int, ...]]:
    """A command line's list of sizes: "4096x4096,11008x4096" -> [(4096, 4096), (11008, 4096)]."""
    return [tuple(int(v) for v in item.split("x")) for item in text.split(",")]


def grid_cli(doc: str, budget_s: float, extra: list[tuple[str, int | str, str]] = ()) -> argparse.Namespace:
    """The config-grid scripts' command line: --out (created), --budget-s and extra (flag, default, help) options,
    of the default's type."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-s", type=float, default=budget_s, help="seconds of compiles + timings on 4096x4096")
    for flag, default, help_text in extra:
        ap.add_argument(flag, type=type(default), default=default, help=help_text)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def fastest(rows: list[dict], count: int, **match) -> list[dict]:
    """The count fastest timed rows whose fields equal match's."""
    timed = (r for r in rows if r["us"] and all(r[k] == v for k, v in match.items()))
    return sorted(timed, key=lambda r: r["us"])[:count]


def distinct(keys) -> list:
    """keys in order, each once (the configs of the fastest rows, whatever their split-K)."""
    return list(dict.fromkeys(keys))


def time_grid(launch, layer, x, slots, ref, groups, budget_s: float, rows: list, label: str) -> None:
    """The config-grid scripts' timing loop: groups yields, per compiled config, its launches as (config, row
    fields) pairs (e.g. one per split-K); each is timed and checked (checked_time) into rows. No new group
    starts after budget_s seconds."""
    t0, timed = time.time(), 0
    for launches in groups:
        if time.time() - t0 > budget_s:
            print(f"{label}: budget spent after {timed} timings", flush=True)
            break
        for cfg, fields in launches:
            us, err = checked_time(launch, layer, x, slots, ref, cfg)
            rows.append({**fields, **cfg, "us": us, "err": err})
            timed += 1
            print(f"{label} {cfg}: {us and round(us, 1)} us", flush=True)


def poisoned_launch(launch, layer, x, slots, cfg) -> torch.Tensor:
    """y [M, N] after one launch of a config of a launcher on the layer's first copy, y filled with NaN before (a
    row the kernel leaves unwritten fails the check against the reference)."""
    y = torch.full((x.shape[0], layer.codes[0].shape[0]), float("nan"), dtype=torch.float16, device="cuda")
    launch(x, layer.codes[0], layer.pools[0], slots, BITS, y, cfg)
    return y


def checked_launch(launch, layer, x, slots, ref, cfg) -> tuple:
    """(a launch of one config of a launcher over the layer's rotating copies, for turns_us; its largest absolute
    error against ref), its output poisoned first: each config of a comparison in turns checked once."""
    y = poisoned_launch(launch, layer, x, slots, cfg)
    return launch_fn(launch, layer, x, slots, BITS, y, cfg), (y.float() - ref.float()).abs().max().item()


H100_SHIPPED = "kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json"  # the device scripts' default shipped file


def shipped_choices(argv: list[str]) -> dict:
    """A device script's shipped choices: the kernels/tuned file argv[1] names, else the H100's."""
    return json.loads(Path(argv[1] if len(argv) > 1 else H100_SHIPPED).read_text())


def one_task_decode_key(m: int, n: int, k: int, gpr: int) -> str:
    """The tuning key of an m-token, one-task decode call on an n x k 4-bit layer of fp16 at gpr (kernels/tuned)."""
    return f"decode|{m},{n},{k},4,{gpr},torch.float16,torch.float16"


def shipped_in_turns(shipped: dict, variants, out_name: str, tokens=(4, 8), gprs=(1, 4)) -> list[dict]:
    """Each shipped one-task decode choice (shipped: a kernels/tuned file's dict) at `tokens` tokens and `gprs`
    against its variants (variants(choice, key) -> {label: config}, key: the choice's key in shipped; empty to skip
    the key), in turns with cuBLAS over 5
    rounds (graph replays, L2 flushed by rotating copies), each config checked once against the reference
    (checked_launch; a variant the launcher refuses at the case's shape, ValueError, is left out of it and
    printed). Prints a line a case and writes the rows so far to $OUT/out_name after each (a run cut by its time
    limit keeps what it timed)."""
    rows, out = [], Path(os.environ.get("OUT", ".")) / out_name
    for n, k, gpr, layer in layers(gprs=gprs):
        for m in tokens:
            key = one_task_decode_key(m, n, k, gpr)
            choice = shipped.get(key)
            configs = variants(choice, key) if choice else {}
            if not configs:
                continue
            x, slots = make_batch(m, 1, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches, errs = {"cublas": rotating(cublas_fns(layer, x))}, {}
            for label, cfg in list(configs.items()):
                try:
                    launches[label], errs[label] = checked_launch(launch_decode, layer, x, slots, ref, cfg)
                except ValueError as e:  # the launcher's refusal of this shape (a variant made for another)
                    print(f"{label} refused at {m} tokens {n}x{k} gpr {gpr}: {str(e)[:160]}", flush=True)
                    del configs[label]
            us = turns_us(launches, rounds=5)
            rows.append({"N": n, "K": k, "gpr": gpr, "M": m, "config": choice, "configs": configs, "us": us,
                         "err": errs})  # fmt: skip
            print(f"{m} tokens {n}x{k} gpr {gpr}: " + " | ".join(f"{label} {t:.2f}" for label, t in us.items())
                  + f" | max err {max(errs.values()):.1e} | {choice}", flush=True)  # fmt: skip
            out.write_text(json.dumps(rows, indent=1))
    out.write_text(json.dumps(rows, indent=1))  # also where no key had variants
    return rows


def checked_time(launch, layer, x, slots, ref, cfg) -> tuple[float | None, float | None]:
    """(us, relative error) of one config of a launcher, output poisoned first; us is None if it failed or
    its result is off the reference by 3e-3 or more."""
    try:
        y = poisoned_launch(launch, layer, x, slots, cfg)
        err = rel_to(y, ref)
        us = graph_us(launch_fn(launch, layer, x, slots, BITS, y, cfg))
    except Exception as e:  # noqa: BLE001 - record and go on
        print(launch.__name__, "config failed", cfg, repr(e)[:300])
        return None, None
    if not err < 3e-3:
        print("WRONG", launch.__name__, cfg, err)
        return None, err
    return us, err


def sweep(args, out_dir):
    """Every variant on a few cases, each checked against the reference: the data behind the pruned lists."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    kinds = set(args.sweep_kinds.split(","))
    rows = []
    for n, k in [(4096, 4096), (11008, 4096)]:
        layer = Layer(n, k, 4)
        for m, tasks in SWEEP_CASES:
            x, slots = make_batch(m, tasks, k)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            decode_cfgs = []
            if "decode" in kinds:  # every variant
                decode_cfgs = sweep_decode_configs(m, n, k, sms)
            elif "gather" in kinds:  # the autotuner's pruned list only
                decode_cfgs = decode_candidates(m, n, k, sms, prmt=True, group_size=k // 4)  # 4-bit, fp16, gpr 4
            for cfg in decode_cfgs:
                us, err = checked_time(launch_decode, layer, x, slots, ref, cfg)
                rows.append({"kind": "decode", "N": n, "K": k, "M": m, "tasks": tasks, **cfg, "us": us, "err": err})
            for cfg in bucket_candidates(m, n, k, BITS, sms) if "bucket" in kinds else []:
                for asm in (True, False):
                    cfg = dict(cfg, ASM=asm)
                    us, err = checked_time(launch_bucket, layer, x, slots, ref, cfg)
                    rows.append({"kind": "bucket", "N": n, "K": k, "M": m, "tasks": tasks, **cfg, "us": us, "err": err})
            for kind in ("decode", "bucket"):
                sel = [r for r in rows if r["kind"] == kind and r["N"] == n and r["M"] == m and r["tasks"] == tasks]
                best = min((r for r in sel if r["us"]), key=lambda r: r["us"], default=None)
                print(f"sweep {kind} {n}x{k} M={m} tasks={tasks}: best {best and best['us']} us {best}", flush=True)
            (out_dir / "kernels_sweep.json").write_text(json.dumps(rows, indent=0))
        if "prefill" not in kinds:
            del layer
            torch.cuda.empty_cache()
            continue
        m, tasks = 2048, 1
        x, _ = make_batch(m, tasks, k)
        slots = torch.zeros(m, dtype=torch.int32, device="cuda")
        ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
        for cfg in PREFILL_SWEEP:
            y = torch.full((m, n), float("nan"), dtype=torch.float16, device="cuda")
            try:
                launch_prefill(x, layer.codes[0], layer.pools[0], slots, None, BITS, y, cfg)
                err = rel_to(y, ref)
                us = bench(launch_fn(launch_prefill, layer, x, slots, None, BITS, y, cfg), rep=30)
            except Exception as e:  # noqa: BLE001
                us, err = None, None
                print("config failed", cfg, repr(e)[:300])
            rows.append({"kind": "prefill", "N": n, "K": k, "M": m, "tasks": tasks, **cfg, "us": us, "err": err})
            print(f"sweep prefill {n}x{k} M={m} tasks={tasks} {cfg}: {us} err {err}", flush=True)
        (out_dir / "kernels_sweep.json").write_text(json.dumps(rows, indent=0))
        del layer
        torch.cuda.empty_cache()


def profile(args):
    """One launch of a few variants, for Nsight Compute: ncu -k regex:'_decode|_bucket' python3 ... --profile."""
    layer = Layer(4096, 4096, 4, slots=16)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    cases = [
        (1, 1, {"BLOCK_N": 16, "BLOCK_K": 512, "MODE": MODE_FMA, "num_warps": 4, "num_stages": 1, "PREFETCH": 2}),
        (16, 1, {"BLOCK_N": 32, "BLOCK_K": 256, "MODE": MODE_DOT_SWAP, "num_warps": 4, "num_stages": 3,
                 "PREFETCH": 0}),
        (16, 16, {"BLOCK_N": 32, "BLOCK_K": 256, "MODE": MODE_DOT_SWAP, "num_warps": 4, "num_stages": 3,
                  "PREFETCH": 0}),
    ]  # fmt: skip
    for m, tasks, cfg in cases:
        cfg["SPLIT_K"] = split_for(4096, 4096, cfg["BLOCK_N"], cfg["BLOCK_K"], 2 * sms)
        x, slots = make_batch(m, tasks, 4096)
        y = torch.empty(m, 4096, dtype=torch.float16, device="cuda")
        launch_decode(x, layer.codes[0], layer.pools[0], slots, BITS, y, cfg)
    # the register-LUT kernels with the grids' best configs (decode_m1_grid.json, decode_m16_grid.json)
    # (and the one-token kernel with fp16 products, HALF2: the fourteenth session's choice at 4096x4096)
    for m, cfg in [(1, {"BLOCK_N": 32, "BLOCK_K": 512, "num_warps": 4, "num_stages": 2, "waves": 4}),
                   (1, {"BLOCK_N": 32, "BLOCK_K": 512, "num_warps": 4, "num_stages": 2, "waves": 4, "HALF2": 1}),
                   (16, {"BLOCK_N": 64, "BLOCK_K": 64, "num_warps": 4, "num_stages": 4, "waves": 2})]:  # fmt: skip
        cfg["SPLIT_K"] = split_for(4096, 4096, cfg["BLOCK_N"], cfg["BLOCK_K"], cfg.pop("waves") * sms)
        x, slots = make_batch(m, 1, 4096)
        y = torch.empty(m, 4096, dtype=torch.float16, device="cuda")
        launch = launch_decode_prmt if m == 1 else launch_decode_prmt_dot
        launch(x, layer.codes[0], layer.pools[0], slots, BITS, y, cfg)
    # the bucket-sum kernel (cols layout) at 16 tokens over 16 tasks: v11's pairs order at the two configs the H200
    # autotuner picked at 4096x4096 (results/autotune_serving_h200_full.json), then v13's word order
    for block_n, block_k, warps, stages, waves, quads in [(32, 64, 4, 3, 4, False), (32, 256, 4, 2, 2, False),
                                                          (32, 128, 4, 2, 2, True)]:  # fmt: skip
        cfg = {"LAYOUT": "cols", "PAIRS": True, "QUADS": quads, "BLOCK_N": block_n, "BLOCK_K": block_k,
               "num_warps": warps, "num_stages": stages,
               "SPLIT_K": split_for(4096, 4096, block_n, block_k, waves * sms)}  # fmt: skip
        x, slots = make_batch(16, 16, 4096)
        y = torch.empty(16, 4096, dtype=torch.float16, device="cuda")
        launch_bucket(x, layer.codes[0], layer.pools[0], slots, BITS, y, cfg)
    # the fragment kernel at 16 tokens of one task: the shipped one-task choice's shape (2 warps, 2 row blocks,
    # 64-column chunks, split-K 8 waves) and PRELOAD's (4 warps, one 512-column chunk a program); then PRELOAD over 4
    # tasks
    for tasks, cfg in [(1, {"MODE": MODE_MMA, "num_warps": 2, "ROWS": 2, "WPL": 2,
                            "SPLIT_K": split_for(4096, 4096, 64, 64, 8 * sms)}),
                       (1, {"MODE": MODE_MMA, "num_warps": 4, "ROWS": 1, "WPL": 16, "PRELOAD": 1}),
                       (4, {"MODE": MODE_MMA, "num_warps": 8, "ROWS": 1, "WPL": 16, "PRELOAD": 1})]:  # fmt: skip
        x, slots = make_batch(16, tasks, 4096)
        y = torch.empty(16, 4096, dtype=torch.float16, device="cuda")
        launch_decode(x, layer.codes[0], layer.pools[0], slots, BITS, y, cfg)
    x, _ = make_batch(2048, 1, 4096)
    slots = torch.zeros(2048, dtype=torch.int32, device="cuda")
    y = torch.empty(2048, 4096, dtype=torch.float16, device="cuda")
    launch_prefill(x, layer.codes[0], layer.pools[0], slots, None, BITS, y, PREFILL_SWEEP[2])
    torch.cuda.synchronize()


def sm90_compile(kernel, ints: list[str], div16: list[str], const: dict, warps: int, stages: int,
                 x: str = "fp16", lut: str = "fp16",
                 maxnreg: int | None = None, extra_sig: dict | None = None) -> tuple[str, str, int, str]:  # fmt: skip
    """Compile a multi-LUT kernel for sm_90 without a GPU (ptxas and cuobjdump ship with Triton).

    ints: its integer arguments; div16: those (besides the pointers) given the divisible-by-16 specialization the
    launchers get at Llama shapes; const: its constexprs (those with defaults may be left out); x / lut: element
    types of the activations and the LUT pool; maxnreg: the register cap a config may set; extra_sig: the signature
    of arguments that are neither pointers nor integers (a tensor descriptor: triton.runtime.jit.mangle_type).
    Returns (registers, stack bytes, shared memory bytes, SASS).
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    # constexprs the caller leaves out take the kernel's defaults (as a launch would); ASTSource does not fill them
    const = {**{p.name: p.default for p in kernel.params if p.is_constexpr and p.has_default}, **const}
    # every *_ptr argument: x and y in x's type, the LUT in its own, codes bytes, the split-K workspace fp32, the
    # rest (slots, permutations, counters) int32
    types = {"x_ptr": f"*{x}", "codes_ptr": "*u8", "lut_ptr": f"*{lut}", "y_ptr": f"*{x}", "ws_ptr": "*fp32"}
    pointers = [a for a in kernel.arg_names if a.endswith("_ptr")]
    attrs = {(kernel.arg_names.index(a),): [["tt.divisibility", 16]] for a in pointers + div16}
    sig = {
        **{a: types.get(a, "*i32") for a in pointers},
        **dict.fromkeys(ints, "i32"),
        **dict.fromkeys(const, "constexpr"),
        **(extra_sig or {}),
    }
    if type(kernel).__name__ == "GluonJITFunction":  # a Gluon kernel (triton_prefill_wgmma.py)
        from triton.experimental.gluon._runtime import GluonASTSource as ASTSource
    src = ASTSource(fn=kernel, signature=sig, constexprs=const, attrs=attrs)
    options = {"num_warps": warps, "num_stages": stages} | ({"maxnreg": maxnreg} if maxnreg else {})
    kern = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(kern.asm["cubin"])
        f.flush()
        res = subprocess.run([cuobjdump, "-res-usage", f.name], capture_output=True, text=True).stdout
        sass = subprocess.run([cuobjdump, "-sass", f.name], capture_output=True, text=True).stdout
    regs, stack = re.search(r"REG:(\d+)", res).group(1), re.search(r"STACK:(\d+)", res).group(1)
    return regs, stack, kern.metadata.shared, sass


def compile_sm90() -> None:
    """Compile both bucket kernels for sm_90 without a GPU: registers, spills, shared memory and the instruction
    mix of the inner loop (the one holding the MMAs), per config."""
    os.environ.pop("TRITON_INTERPRET", None)
    from kernels.triton_bucket import _bucket_kernel
    from kernels.triton_bucket_cols import _bucket_cols_kernel

    ints = ["M", "N", "K", "KP", "GS", "stride_xm", "stride_cn", "stride_ls", "stride_ln", "stride_ym",
            "K_PER_SPLIT", "SPLIT_K"]  # fmt: skip
    # (layout, bits, BLOCK_M, BLOCK_N, BLOCK_K, warps, stages, inline-asm one-hot, x dtype)
    cases = [("rows", 4, 16, 16, 64, 4, 3, True, "fp16"), ("rows", 4, 16, 16, 64, 4, 3, False, "fp16"),
             ("rows", 4, 16, 16, 64, 4, 3, True, "bf16"), ("rows", 4, 16, 16, 64, 8, 3, True, "fp16"),
             ("rows", 4, 16, 32, 64, 8, 3, True, "fp16"), ("rows", 4, 16, 16, 128, 8, 3, True, "fp16"),
             ("rows", 3, 16, 32, 64, 4, 3, True, "fp16"), ("rows", 2, 16, 64, 128, 4, 3, True, "fp16"),
             ("rows", 4, 64, 8, 64, 4, 3, True, "fp16"),
             ("cols", 4, 16, 32, 128, 4, 2, True, "fp16"), ("cols", 4, 16, 32, 128, 4, 2, False, "fp16"),
             ("cols", 4, 16, 64, 256, 4, 1, True, "fp16"),
             ("cols", 4, 16, 64, 128, 8, 2, True, "fp16"), ("cols", 4, 16, 32, 64, 4, 3, True, "fp16"),
             ("cols", 4, 16, 32, 256, 4, 2, True, "fp16"), ("cols", 3, 16, 32, 128, 4, 2, True, "fp16"),
             ("cols", 2, 16, 32, 256, 4, 2, True, "fp16"), ("cols", 4, 32, 16, 128, 4, 2, True, "fp16"),
             ("pairs", 4, 16, 32, 64, 4, 3, True, "fp16"), ("pairs", 4, 16, 32, 256, 4, 2, True, "fp16"),
             ("quads", 4, 16, 32, 64, 4, 3, True, "fp16"), ("quads", 4, 16, 32, 128, 4, 2, True, "fp16"),
             ("quads", 4, 16, 32, 256, 4, 2, True, "fp16"), ("quads", 3, 16, 32, 256, 4, 2, True, "bf16")]  # fmt: skip
    for layout, bits, bm, bn, bk, warps, stages, asm, xdt in cases:
        kernel = _bucket_kernel if layout == "rows" else _bucket_cols_kernel
        const = {"BITS": bits, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "USE_SPLIT": True,
                 "DOT_PRECISION": "tf32", "ASM": asm}  # fmt: skip
        if layout != "rows":  # the cols kernel's K orders: bytes ("cols"), pairs (v11), quads (v13)
            const |= k_order_flags("bytes" if layout == "cols" else layout)
        regs, stack, smem, sass = sm90_compile(kernel, ints, ints[1:-1], const, warps, stages, x=xdt)
        n_loop, mix = _inner_loop_mix(sass)
        per = bn * (1 << bits) * bk / (32 * warps)  # one-hot elements per thread and loop trip
        print(f"{layout} bits={bits} BM={bm} BN={bn} BK={bk} warps={warps} stages={stages} x={xdt} asm={asm}:"
              f" regs {regs} stack {stack} smem {smem} B | loop {n_loop} instr,"
              f" {n_loop / per:.2f} per one-hot element | {mix}", flush=True)  # fmt: skip


def compile_prmt_sm90() -> None:
    """The register-LUT decode kernels (kernels/triton_decode_prmt.py) and, for comparison, the gather decode
    kernel, compiled for sm_90: registers, spills and the K loop's instructions per weight."""
    os.environ.pop("TRITON_INTERPRET", None)
    from kernels.triton_decode import _decode_kernel
    from kernels.triton_decode_prmt import _decode_prmt_dot_kernel, _decode_prmt_kernel

    # One token: the loop holds a masked and an unmasked body; both are counted.
    ints = ["N", "K", "KW", "GS", "stride_cw", "stride_ls", "stride_ln", "K_PER_SPLIT", "SPLIT_K"]
    for bn, bk, warps, lut, half2, prefetch, x_vec in [
        (16, 512, 4, "fp16", 0, 0, 0), (32, 256, 4, "fp16", 0, 0, 0), (16, 512, 4, "bf16", 0, 0, 0),
        (16, 1024, 4, "fp16", 0, 0, 0), (8, 512, 2, "fp16", 0, 0, 0), (32, 512, 4, "fp16", 0, 0, 0),
        (32, 512, 4, "fp16", 1, 0, 0), (16, 512, 4, "fp16", 1, 0, 0), (64, 256, 4, "fp16", 1, 0, 0),
        (32, 256, 4, "fp16", 1, 0, 0), (8, 512, 4, "fp16", 1, 3, 0), (16, 512, 4, "fp16", 1, 2, 0),
        (16, 1024, 4, "fp16", 1, 2, 0), (32, 512, 4, "fp16", 1, 1, 0), (32, 512, 4, "fp16", 1, 1, 1),
        (16, 1024, 4, "fp16", 1, 1, 1),
    ]:  # fmt: skip
        const = {
            "BITS": 4,
            "BLOCK_N": bn,
            "BLOCK_K": bk,
            "USE_SPLIT": True,
            "ASM": True,
            "LUT_BF16": lut == "bf16",
            "PREFETCH": prefetch,
            "HALF2": bool(half2),
            "X_VEC": bool(x_vec),
        }
        regs, stack, _, sass = sm90_compile(_decode_prmt_kernel, ints, ints[:-1], const, warps, 1, lut=lut)
        n_loop, mix = _inner_loop_mix(sass, anchor=("HFMA2",) if half2 else ("FFMA",))
        per_thread = bn * bk / (32 * warps)  # weights per thread and K block, once per body
        print(f"prmt BN={bn} BK={bk} warps={warps} lut={lut} half2={half2} prefetch={prefetch} x_vec={x_vec}: "
              f"regs {regs} stack {stack} | loop {n_loop} "
              f"instr (both bodies), {n_loop / (2 * per_thread):.2f} per weight and body | {mix}",
              flush=True)  # fmt: skip

    # The gather decode kernel (one token: MODE_FMA; several: MODE_DOT_SWAP).
    ints = ["M", "N", "K", "KP", "GS", "GPR", "stride_xm", "stride_cn", "stride_ls", "stride_ln", "stride_ym",
            "K_PER_SPLIT", "SPLIT_K"]  # fmt: skip
    div16 = [a for a in ints if a not in ("M", "GPR", "SPLIT_K")]
    gather_cases = [(2, 1, 16, 512, 4, 1, 1, False), (1, 16, 64, 128, 4, 1, 1, False), (1, 16, 32, 256, 4, 3, 0, True)]
    for mode, bm, bn, bk, warps, stages, pf, outer in gather_cases:
        const = {"BITS": 4, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "MODE": mode, "USE_SPLIT": True,
                 "ONE_BOUNDARY": True, "DOT_PRECISION": "tf32", "ASM": True, "FAST": False, "PREFETCH": pf,
                 "SLOT_OUTER": outer}  # fmt: skip
        regs, _, _, sass = sm90_compile(_decode_kernel, ints, div16, const, warps, stages)
        n_loop, mix = _inner_loop_mix(sass, anchor=("FFMA",) if mode == MODE_FMA else ("GMMA", "HMMA"))
        print(f"gather mode={mode} BM={bm} BN={bn} BK={bk} warps={warps} slot_outer={outer}: regs {regs} | "
              f"loop {n_loop} instr, {n_loop / (bn * bk / (32 * warps)):.2f} per weight (one slot) | {mix}",
              flush=True)  # fmt: skip

    # Several tokens: per slot and group the tables, then dequantize + wgmma per K block.
    ints = ["M", "N", "K", "KW", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT",
            "SPLIT_K"]  # fmt: skip
    for bm, bn, bk, warps, stages in [(16, 64, 128, 4, 2), (16, 64, 256, 4, 2), (16, 128, 128, 8, 1),
                                      (16, 128, 64, 8, 2), (16, 32, 256, 4, 2), (16, 64, 64, 4, 2),
                                      (64, 64, 128, 4, 2)]:  # fmt: skip
        const = {"BITS": 4, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "USE_SPLIT": True, "ASM": True,
                 "DOT_PRECISION": "tf32"}  # fmt: skip
        regs, stack, smem, sass = sm90_compile(_decode_prmt_dot_kernel, ints, ints[1:-1], const, warps, stages)
        n_loop, mix = _inner_loop_mix(sass)
        per_thread = bn * bk / (32 * warps)
        print(f"prmt-dot BM={bm} BN={bn} BK={bk} warps={warps} stages={stages}: regs {regs} stack {stack} smem "
              f"{smem} B | loop {n_loop} instr, {n_loop / per_thread:.2f} per weight (one slot) | {mix}",
              flush=True)  # fmt: skip


def compile_decode_mma_sm90(const: dict, warps: int, maxnreg: int | None = None) -> tuple[str, str, int, str]:
    """The fragment kernel (kernels/triton_decode_mma.py) compiled for sm_90 with const (its constexprs), warps and
    maxnreg (a register cap, or None): (registers, stack bytes, shared memory bytes, SASS), as sm90_compile."""
    from kernels.triton_decode_mma import _decode_mma_kernel

    ints = ["M", "N", "K", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln", "stride_ym", "K_PER_SPLIT",
            "SPLIT_K"]  # fmt: skip
    return sm90_compile(_decode_mma_kernel, ints, [i for i in ints if i not in ("M", "stride_cw", "SPLIT_K")],
                        const, warps, 1, maxnreg=maxnreg)  # fmt: skip


def compile_mma_sm90() -> None:
    """The fragment kernel's decode candidates (kernels/triton_decode_mma.py MMA_CANDIDATES: the gather class's
    choices at 2-16 tokens where the register-LUT kernels apply) compiled for sm_90 at 8 and 16 tokens: registers,
    spills, shared memory and the K loop's instructions per weight. Run it under two Tritons to compare their code
    for the same configs (fifty-fourth session: 3.9 ran the H100's shipped fragment choices up to 1.6x slower)."""
    os.environ.pop("TRITON_INTERPRET", None)
    import triton

    from kernels.triton_decode_mma import MMA_CANDIDATES

    print(f"triton {triton.__version__}", flush=True)
    for tiles in (1, 2):
        for warps, rows, wpl in dict.fromkeys(c[:3] for c in MMA_CANDIDATES):
            const = {"BITS": 4, "WARPS": warps, "WPL": wpl, "TILES": tiles, "ROWS": rows, "USE_SPLIT": True,
                     "ASM": True, "BF16": False, "X16": True}  # fmt: skip
            regs, stack, smem, sass = compile_decode_mma_sm90(const, warps)
            n_loop, mix = _inner_loop_mix(sass, top=6)
            per_lane = 16 * rows * wpl  # a warp's chunk (16 rows a block x 32 wpl columns) over its 32 lanes
            print(f"mma tokens<={8 * tiles} warps={warps} rows={rows} wpl={wpl}: regs {regs} stack {stack} smem "
                  f"{smem} | loop {n_loop} instr, {n_loop / per_lane:.2f} per weight | {mix}", flush=True)  # fmt: skip


def compile_prefill_sm90() -> None:
    """The prefill kernels compiled for sm_90: the generic one (L1 gathers) and the register-LUT one
    (kernels/triton_prefill_prmt.py) in both operand orders: registers, spills, shared memory and the K loop's
    instructions per weight of a [BN, BK] tile (one slot), with its MMAs."""
    os.environ.pop("TRITON_INTERPRET", None)
    from kernels.triton_prefill import _prefill_kernel

    ints = ["M", "N", "K", "KP", "GS", "GPR", "stride_xm", "stride_cn", "stride_ls", "stride_ln", "stride_ym"]
    div16 = [a for a in ints if a not in ("M", "GPR")]
    for bm, bn, bk, warps, stages in [(256, 128, 64, 8, 3), (128, 128, 128, 8, 3)]:
        const = {"BITS": 4, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "HAS_PERM": False, "ONE_BOUNDARY": True,
                 "DOT_PRECISION": "tf32", "ASM": True, "FAST": False, "PREFETCH": 0, "ROW_WARP": bk == 128}  # fmt: skip
        regs, stack, smem, sass = sm90_compile(_prefill_kernel, ints, div16, const, warps, stages)
        n_loop, mix = _inner_loop_mix(sass)
        per_thread = bn * bk / (32 * warps)
        print(f"prefill BM={bm} BN={bn} BK={bk} warps={warps} stages={stages}: regs {regs} stack {stack} smem {smem}"
              f" B | loop {n_loop} instr, {n_loop / per_thread:.2f} per weight | {mix}", flush=True)  # fmt: skip

    for bm, bn, bk, warps, stages, w_left in PREFILL_PRMT_SM90_CASES:
        config = {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "num_warps": warps, "num_stages": stages,
                  "W_LEFT": w_left}  # fmt: skip
        regs, stack, smem, sass = compile_prefill_prmt_sm90(config)
        n_loop, mix = _inner_loop_mix(sass)
        per_thread = bn * bk / (32 * warps)
        print(f"prefill-prmt BM={bm} BN={bn} BK={bk} warps={warps} stages={stages} w_left={w_left}: regs {regs} "
              f"stack {stack} smem {smem} B | loop {n_loop} instr, {n_loop / per_thread:.2f} per weight | {mix}",
              flush=True)  # fmt: skip


def compile_prefill_prmt_sm90(config: dict) -> tuple[str, str, int, str]:
    """sm90_compile of the register-LUT prefill kernel with a launcher config (BLOCK_*, num_warps, num_stages,
    W_LEFT, maxnreg), as the op's segment tiles launch it at Llama shapes (4-bit, K a multiple of BLOCK_K)."""
    from kernels.triton_prefill_prmt import MAX_TILED_SEGMENTS, _prefill_prmt_kernel

    ints = ["M", "M_TILES", "G", "MIN_LEN", "N", "K", "KW", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln",
            "stride_ym"]  # fmt: skip
    const = {"BITS": 4, "BLOCK_M": config["BLOCK_M"], "BLOCK_N": config["BLOCK_N"], "BLOCK_K": config["BLOCK_K"],
             "HAS_PERM": False, "TILED": True, "BLOCK_G": MAX_TILED_SEGMENTS, "W_LEFT": bool(config.get("W_LEFT", 1)),
             "ASM": True, "DOT_PRECISION": "tf32", "EVEN_K": True}  # fmt: skip
    return sm90_compile(_prefill_prmt_kernel, ints, ints[4:], const, config["num_warps"], config["num_stages"],
                        maxnreg=config.get("maxnreg") or None)  # fmt: skip


def compile_prefill_wgmma_sm90(config: dict, bits: int = 4, x: str = "fp16") -> tuple[str, str, int, str]:
    """sm90_compile of the wgmma prefill kernel (triton_prefill_wgmma.py) with a launcher config (BLOCK_*,
    num_warps, num_stages), at Llama shapes; x: the activations' and the LUT's type."""
    from kernels.triton_prefill_prmt import MAX_TILED_SEGMENTS
    from kernels.triton_prefill_wgmma import (
        CP_ASYNC_LAYOUTS,
        TMA_LAYOUTS,
        _prefill_wgmma_kernel,
        _prefill_wgmma_tma_kernel,
        codes_descriptor,
        codes_tma,
        kernel_layouts,
        lut_stage,
        staged_lut_args,
        tma_options,
    )

    bm, bn, bk, warps = config["BLOCK_M"], config["BLOCK_N"], config["BLOCK_K"], config["num_warps"]
    layouts = kernel_layouts(warps, bn, bm, bk)
    const = {"BITS": bits, "BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "STAGES": config["num_stages"],
             "BLOCK_G": MAX_TILED_SEGMENTS, "STORE_ROWS": bool(config.get("STORE_ROWS", 0))}  # fmt: skip
    if config.get("X_TMA"):
        import torch
        from triton.experimental.gluon.nvidia.hopper import TensorDescriptor
        from triton.runtime.jit import mangle_type

        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[x]
        desc = TensorDescriptor.from_tensor(torch.empty(bm, 4096, dtype=dtype), [bm, bk], layouts["x_smem_layout"])
        ints = ["G", "MIN_LEN", "N", "K", "GS", "stride_cw", "stride_ls", "stride_ln", "stride_ym"]
        const |= {**tma_options(config), **{k: layouts[k] for k in TMA_LAYOUTS},
                  "USE_SPLIT": config.get("SPLIT_K", 1) > 1}  # fmt: skip
        lut_desc = desc  # the launcher's placeholder
        if lut_stage(config, 4):  # gpr 4 at Llama's K (one pool slot is enough for the descriptor's type)
            lut_desc, staged = staged_lut_args(torch.empty(1, bn, 4, 1 << bits, dtype=dtype), warps, bn)
            const |= staged
        codes_desc = desc  # the launcher's placeholder
        if codes_tma(config):
            codes_desc = codes_descriptor(torch.zeros(bn, 2048, dtype=torch.uint8), bn, bk)
        sig = {"x_desc": mangle_type(desc), "lut_desc": mangle_type(lut_desc), "codes_desc": mangle_type(codes_desc)}
        return sm90_compile(_prefill_wgmma_tma_kernel, ints + ["KB_PER_SPLIT"], ints[2:], const, warps,
                            config["num_stages"], x=x, lut=x, extra_sig=sig)  # fmt: skip
    ints = ["G", "MIN_LEN", "N", "K", "GS", "stride_xm", "stride_cw", "stride_ls", "stride_ln", "stride_ym"]
    layouts = {k: layouts[k] for k in CP_ASYNC_LAYOUTS}
    return sm90_compile(_prefill_wgmma_kernel, ints, ints[2:], const | layouts, warps, config["num_stages"], x=x,
                        lut=x)  # fmt: skip


def compile_bucket_wgmma_sm90(config: dict, bits: int = 4, x: str = "fp16") -> tuple[str, str, int, str]:
    """sm90_compile of the wgmma bucket kernel (triton_bucket_wgmma.py) with a launcher config (ROWS, BLOCK_M,
    BLOCK_K, num_warps, num_stages, SPLIT_K), at Llama shapes; x: the activations' and the LUT's type."""
    import torch
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor
    from triton.runtime.jit import mangle_type

    from kernels.triton_bucket_wgmma import KERNEL_LAYOUTS, _bucket_wgmma_kernel, bucket_wgmma_layouts, release_mode

    rows, bm, bk, warps = config["ROWS"], config["BLOCK_M"], config["BLOCK_K"], config["num_warps"]
    layouts = bucket_wgmma_layouts(warps, rows, bm, bk, bool(config.get("MMA_V2", 0)), bool(config.get("WIDE", 0)),
                                   bits, int(config.get("LEVEL_SPLIT", 0)))  # fmt: skip
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[x]
    desc = TensorDescriptor.from_tensor(torch.empty(bm, 4096, dtype=dtype), [bm, bk], layouts["x_smem_layout"])
    c_desc = TensorDescriptor.from_tensor(torch.empty(rows, 512, dtype=torch.int32), [rows, bk // 8],
                                          layouts["c_smem_layout"])  # fmt: skip
    const = {"BITS": bits, "ROWS": rows, "BLOCK_M": bm, "BLOCK_K": bk, "STAGES": config["num_stages"],
             **{k: layouts[k] for k in KERNEL_LAYOUTS}, "USE_SPLIT": config.get("SPLIT_K", 1) > 1,
             "MMA_V2": bool(config.get("MMA_V2", 0)), "WIDE": bool(config.get("WIDE", 0)),
             "PROBE": int(config.get("PROBE", 0)), "PDL": bool(config.get("PDL", 0)),
             "RELEASE": release_mode(config), "ONE_FOLD": bool(config.get("ONE_FOLD", 1)),
             "LEVEL_SPLIT": int(config.get("LEVEL_SPLIT", 0))}  # fmt: skip
    extra_sig = {"x_desc": mangle_type(desc), "c_desc": mangle_type(c_desc)}
    ints = ["M", "N", "K", "GS", "stride_ls", "stride_ln", "stride_ym", "KB_PER_SPLIT"]
    return sm90_compile(_bucket_wgmma_kernel, ints, ints[1:], const, warps, config["num_stages"], x=x, lut=x,
                        maxnreg=config.get("maxnreg") or None, extra_sig=extra_sig)


def compile_bucket_int8_sm90(num_warps: int, block_k: int, stages: int, split: bool, merged: bool = False,
                             base_corr: bool = False, pdl: bool = False) -> tuple[str, str, int, str]:  # fmt: skip
    """sm90_compile of the int8 bucket kernel (triton_bucket_int8.py): 8 num_warps weight rows, 16 tokens, fp16 LUT;
    merged: its one-accumulator form; base_corr: one digit and the base LUT's correction; pdl: its PDL form."""
    import torch
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor
    from triton.runtime.jit import mangle_type

    from kernels.triton_bucket_int8 import KERNEL_LAYOUTS_I8, _bucket_int8_kernel, bucket_int8_layouts

    layouts = bucket_int8_layouts(num_warps, block_k)
    x_desc = TensorDescriptor.from_tensor(torch.empty(16, 4096, dtype=torch.int8), [16, block_k],
                                          layouts["x_smem_layout"])  # fmt: skip
    c_desc = TensorDescriptor.from_tensor(torch.empty(8 * num_warps, 512, dtype=torch.int32),
                                          [8 * num_warps, block_k // 8], layouts["c_smem_layout"])  # fmt: skip
    const = {"ROWS": 8 * num_warps, "BLOCK_K": block_k, "STAGES": stages,
             **{k: layouts[k] for k in KERNEL_LAYOUTS_I8}, "USE_SPLIT": split, "MERGED": merged,
             "BASE_CORR": base_corr, "PDL": pdl}  # fmt: skip
    extra_sig = {"xh_desc": mangle_type(x_desc), "xl_desc": mangle_type(x_desc), "c_desc": mangle_type(c_desc),
                 "step_ptr": "*fp32", "bs_ptr": "*fp32", "bl_ptr": "*fp32"}  # fmt: skip
    ints = ["M", "N", "K", "GS", "stride_ls", "stride_ln", "stride_ym", "KB_PER_SPLIT", "stride_bn", "stride_s"]
    return sm90_compile(_bucket_int8_kernel, ints, ints[1:], const, num_warps, stages, extra_sig=extra_sig)


# (BLOCK_M, BLOCK_N, BLOCK_K, warps, stages, W_LEFT)
PREFILL_PRMT_SM90_CASES = [(256, 128, 64, 8, 3, 1), (256, 128, 64, 8, 4, 1), (256, 128, 64, 8, 2, 1),
                           (256, 64, 64, 4, 3, 1), (256, 64, 64, 4, 4, 0), (512, 64, 64, 8, 3, 1),
                           (512, 64, 64, 8, 3, 0), (256, 128, 32, 8, 4, 1), (256, 64, 128, 4, 3, 0),
                           (256, 128, 128, 8, 3, 1), (128, 128, 64, 4, 4, 0), (256, 256, 64, 8, 3, 1),
                           (512, 128, 64, 8, 3, 1), (256, 64, 32, 4, 4, 0)]  # fmt: skip


def _inner_loop_mix(sass: str, anchor: tuple[str, ...] = ("GMMA", "HMMA"), top: int | None = 10,
                    executed_only: bool = False, full_opcodes: bool = False) -> tuple[int, dict]:  # fmt: skip
    """(instructions, top opcodes: all where top is None) of the smallest backward-branch loop around the first
    MMA (or anchor op); executed_only: leaving out the never-executed padding (`@!PT ...`); full_opcodes: with
    their modifiers (IMAD.MOV.U32 apart from IMAD.WIDE), not the base name alone."""
    mix: dict[str, int] = {}
    for op in _inner_loop_ops(sass, anchor, executed_only, full_opcodes):
        mix[op] = mix.get(op, 0) + 1
    return sum(mix.values()), dict(sorted(mix.items(), key=lambda kv: -kv[1])[:top])


def _inner_loop_ops(sass: str, anchor: tuple[str, ...] = ("GMMA", "HMMA"), executed_only: bool = False,
                    full_opcodes: bool = False) -> list[str]:  # fmt: skip
    """The opcodes of _inner_loop_mix's loop in the order of the SASS (its schedule: what is issued before what)."""
    code = []
    for line in sass.splitlines():
        m = re.match(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m:
            code.append((int(m.group(1), 16), m.group(2)))
    mma = next(a for a, t in code if any(op in t for op in anchor))
    loops = [(int(m.group(1), 16), a) for a, t in code if (m := re.search(r"BRA (0x[0-9a-f]+)", t))]
    lo, hi = min(((s, e) for s, e in loops if s <= mma < e), key=lambda se: se[1] - se[0])
    ops = []
    for a, t in code:
        if lo <= a <= hi and not (executed_only and t.startswith("@!PT ")):
            op = re.sub(r"^@!?U?P\w+\s+", "", t).split()[0]
            ops.append(op if full_opcodes else op.split(".")[0])
    return ops


def best_graph_us(case: dict) -> float:
    """The case's time as the server runs it: CUDA-graph replay (eager times include the host's launch, which on
    a slow host exceeds the kernel), the faster of the gather and bucket kernels (the op picks by task count)."""
    times = [case.get("ours_graph_us") or case["ours_us"], case.get("bucket_graph_us") or 0.0]
    return min(t for t in times if t > 0)


def cublas_graph_us(case: dict) -> float:
    """cuBLAS's time for the case as best_graph_us times ours: graph replay, the eager time where a run has none."""
    return case.get("cublas_graph_us") or case["cublas_us"]


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = results["cases"]
    phases = [p for p in ("decode", "prefill") if any(c["phase"] == p for c in cases)]  # a row each
    fig, axes = plt.subplots(len(phases), 3, figsize=(18, 4.5 * len(phases)), squeeze=False)
    for col, (n, k) in enumerate(SHAPES):
        for row, phase in enumerate(phases):
            ax = axes[row][col]
            sel = [c for c in cases if c["N"] == n and c["K"] == k and c["phase"] == phase]
            if not sel:
                ax.set_visible(False)
                continue
            labels = sorted({(c["M"], c["tasks"]) for c in sel})
            xs = range(len(labels))
            width = 0.16
            series = [
                ("ours gpr=1 (graph)", lambda c: best_graph_us(c) if c["gpr"] == 1 else None),
                ("ours gpr=4 (graph)", lambda c: best_graph_us(c) if c["gpr"] == 4 else None),
                ("cuBLAS fp16 (graph)", cublas_graph_us),
                ("fp16 + LoRA r16", lambda c: c["lora_us"]),
                ("floor gpr=4", lambda c: c["floor_us"] if c["gpr"] == 4 else None),
            ]
            for j, (name, get) in enumerate(series):
                vals = []
                for lab in labels:
                    v = [get(c) for c in sel if (c["M"], c["tasks"]) == lab and get(c) is not None]
                    vals.append(v[0] if v else 0)
                ax.bar([x + (j - 2) * width for x in xs], vals, width, label=name)
            ax.set_xticks(list(xs))
            ax.set_xticklabels([f"M{m}\nT{t}" for m, t in labels], fontsize=8)
            ax.set_ylabel("us")
            ax.set_yscale("log")
            ax.set_title(f"{phase} N={n} K={k} (4-bit)")
            if row == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.suptitle(f"multi-LUT linear on {results['gpu']} (copy {results['copy_tbps']:.2f} TB/s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, help="output directory (required unless --sm90 or --profile)")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--no-main", action="store_true")
    ap.add_argument(
        "--sweep-kinds",
        default="decode,bucket,prefill",
        help="decode (every variant), gather (the pruned autotune list), bucket, prefill",
    )
    ap.add_argument("--shapes", default=",".join(f"{n}x{k}" for n, k in SHAPES))
    ap.add_argument("--phases", default="decode,prefill", help="the main table's cases: decode, prefill or both")
    ap.add_argument("--decode-cases", default=",".join(f"{m}:{t}" for m, t in DECODE),
                    help="decode: tokens:tasks, comma-separated (default: the issue's twelve)")
    ap.add_argument("--plot-only", type=Path, help="re-draw the plot from a kernels.json")
    ap.add_argument("--profile", action="store_true", help="a few single launches for ncu, nothing else")
    ap.add_argument("--tell-tasks", action="store_true",
                    help="decode: pass the op the batch's task count, as the engine does (its task-count classes: "
                         "bucket, few-task and, unless SKETCHSERVE_PAIRS_DECODE=0, the pair kernel)")  # fmt: skip
    ap.add_argument("--sm90", nargs="?", const="all", choices=("all", "bucket", "prmt", "mma", "prefill"),
                    help="compile kernels for sm_90 (no GPU): SASS stats")
    args = ap.parse_args()
    if args.sm90:
        if args.sm90 in ("all", "bucket"):
            compile_sm90()
        if args.sm90 in ("all", "prmt"):
            compile_prmt_sm90()
        if args.sm90 in ("all", "mma"):
            compile_mma_sm90()
        if args.sm90 in ("all", "prefill"):
            compile_prefill_sm90()
        return
    if args.profile:
        profile(args)
        return
    if args.out is None:
        ap.error("--out is required")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.plot_only:
        plot(json.loads(args.plot_only.read_text()), args.out / "kernels.png")
        return
    args.shapes = dims(args.shapes)
    args.decode_cases = [tuple(int(v) for v in case.split(":")) for case in args.decode_cases.split(",")]
    torch.manual_seed(0)
    t0 = time.time()
    bw = copy_bandwidth()
    results = {"gpu": torch.cuda.get_device_name(), "copy_tbps": bw / 1e12, "torch": torch.__version__,
               "graph_timer": "20 calls per graph, L2 flushed before each (kernels/timing.py)", "cases": [],
               "told_tasks": args.tell_tasks}  # fmt: skip
    import triton

    results["triton"] = triton.__version__
    print(f"{results['gpu']}: D2D copy {bw / 1e12:.2f} TB/s", flush=True)
    if args.sweep:
        sweep(args, args.out)
        print(f"sweep done in {time.time() - t0:.0f} s", flush=True)
    if not args.no_main:
        main_bench(args, bw, results, args.out / "kernels.json")
        plot(results, args.out / "kernels.png")
    print(f"done in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
