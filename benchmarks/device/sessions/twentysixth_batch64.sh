# Next session (~5 min, at most 8: a deadline skips the last steps): why batch 64 over 1 and 4 tasks decodes slower
# than in the thirteenth session (gpr 1: 64 x 1 7.63 -> 8.07 ms a step, 64 x 4 19.42 -> 21.46; results/
# serving_h200_thirteenth_full.log against serving_h200_b64_new32_twentyfifth.log) while 64 x 16 did not move (53.73
# after the thirteenth session's bucket fix, 53.87 now). At 64 rows and fewer than 13 tasks every projection takes
# the tensor-core register-LUT kernel (_decode_prmt_dot_kernel, MODE 4) with the same shipped configs as then (v3 and
# v8 agree on all four fused shapes: BN 64, BK 64, 4 warps, 4 stages, split-K 1 for 12288x4096 and 22016x4096, 4 for
# 4096x4096 and 4096x11008); 64 x 16 takes the bucket kernel. What changed in between on that path: PDL (on by default
# since 560bc55; the kernel waits after its slot loads, 2c28602; the fused kernels and the attention release the next
# kernel at their start) - never timed at batch 64, and the autotuner times the PDL-off variant only; the kernel's
# byte tables (7a02fb8), its slot pointer no longer alignment-specialized (933bb40), the split-K store (caf2140); the
# paged attention's split count no longer specialized (69e267b). The kernel tables time only split-K >= 2 shapes at
# 64 tokens; the fused q/k/v and gate/up (split-K 1, ~70 % of the linear time at 64 x 4) were never timed alone.
#
# Steps (each its own process and SKETCHSERVE_CACHE; bench_serving's own random_base / fill_store / make_engine /
# warm_up / decode_point with its flags --gpr 1 --batches 64 --tasks 1 4 --new-tokens 32 --bandwidth 4.25e12, minus
# its TTFT, burst and residency parts): 1. PDL on (shipped); 2. SKETCHSERVE_PDL=0; 3. the op alone at 64 tokens over
# 1 and 4 tasks, the five shapes' shipped choices, PDL off and on in turns, and the paged attention at batch 64; 4. the
# same with the thirteenth session's kernels (only if carried, see below); 5. PDL on again (order / drift check);
# 6. the 64-token decode choices re-tuned on this machine (shipped minus the decode|64 entries). Each serving step
# prints bench_serving's line, the median GPU time of its batch-64 graph replays in the run (step minus that = host /
# sampling), 30 back-to-back replays of that graph, and torch.profiler kernel sums of 10 replays (the tensor-core
# kernel split by projection: q/k/v, o, gate/up, down).
#
# Prediction: if PDL is the cause, step 2 gives back ~0.4 ms at 64 x 1 and ~2 ms at 64 x 4 (7.6 / 19.4 ms) and step 3
# shows the fused shapes' PDL-on time 5-17 % above PDL-off, or, with step 3 equal, step 2's profile shows the
# per-projection times lower without PDL (an in-graph interplay). If the kernel's code is the cause, steps 1 and 2
# tie and step 4 is 10-17 % faster than step 3 on 12288x4096 / 22016x4096 at 4 tasks. If neither (steps 1-4 tie and
# each side's graph time is ~its step time): the machine (step 3's 4096x4096 T=4 against the kernel tables' 46.3 /
# 45.9 us; env_twentysixth.log's clocks) or the host (a step well above its graph time).
#
# Before the call, here (for step 4; skipped without it):
#   rm -rf .device-carry/k13 && mkdir -p .device-carry/k13 && \
#     git archive 4f08d5e kernels server/__init__.py server/triton_fused.py | tar -x -C .device-carry/k13
# and carry .device-carry. Seven logs and one JSON lines file come back.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
DEADLINE=480  # seconds of this script (the device's limit is 600): later steps are skipped past it
SHIPPED=$PWD/kernels/tuned/NVIDIA_H200.v8.json
J=$OUT/b64_twentysixth.jsonl
left() { echo $((DEADLINE - SECONDS)); }
cap() { local l; l=$(left); echo $(($1 < l ? $1 : l)); }  # a step's timeout: its own or what is left

env_log() {
  { echo "== $1 ($(date -u +%H:%M:%S), script at ${SECONDS} s)"; uname -r
    nvidia-smi --query-gpu=name,driver_version,pstate,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu --format=csv
    python3 -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__)"
  } >> $OUT/env_twentysixth.log 2>&1
}
env_log start

cat > /tmp/ss26_b64.py <<'PY'
"""bench_serving's batch-64 decode points (gpr 1, 1 and 4 tasks), each with its graph's GPU time in the run, then
back-to-back replays of that graph and a torch.profiler kernel breakdown of it."""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import bench_serving as bs  # noqa: E402
from decode_host_time import time_replays  # noqa: E402

from adapters.store import LutStore  # noqa: E402
from kernels import autotune  # noqa: E402
from kernels.triton_common import pdl_available  # noqa: E402

PROJ = ("q/k/v 12288x4096", "o 4096x4096", "gate/up 22016x4096", "down 4096x11008")

ap = argparse.ArgumentParser()
ap.add_argument("--label", required=True)
ap.add_argument("--jsonl", required=True)
ap.add_argument("--replays", type=int, default=30)
ap.add_argument("--profile-replays", type=int, default=10)
cli = ap.parse_args()
dev = torch.device("cuda")
tag = f"[{cli.label}]"
args = argparse.Namespace(device=dev, prompt=128, new_tokens=32, ttft_prompt=512, short_prompt=32,
                          cuda_graph_max_batch=64, cpu_weight_dtype="float32", overlap_scheduling="auto",
                          decode_steps=bs.SchedulerConfig.decode_steps, bandwidth=4.25e12)
env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("SKETCHSERVE_")}
print(f"{tag} PDL available: {pdl_available(dev)}; {env}", flush=True)
out = {"label": cli.label, "env": env, "pdl": pdl_available(dev), "points": [], "graphs": []}


def graph_replays(graph, n):
    """Median ms of n back-to-back replays (events around each; no host gap between them)."""
    torch.cuda.synchronize()
    pairs = []
    for _ in range(n):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        graph.replay()
        e.record()
        pairs.append((s, e))
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in pairs)


def breakdown(graph, n):
    """Kernel sums per replay by name, and the linear kernels' median time by position in a layer."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            graph.replay()
        torch.cuda.synchronize()
    kernels = sorted((e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA),
                     key=lambda e: e.time_range.start)
    if not kernels:
        print(f"{tag}   the profiler saw no kernels", flush=True)
        return {}
    names: dict[str, list] = {}
    for e in kernels:
        row = names.setdefault(e.name, [0.0, 0])
        row[0] += e.time_range.elapsed_us() / n
        row[1] += 1 / n
    total = sum(t for t, _ in names.values())
    span = (kernels[-1].time_range.end - kernels[0].time_range.start) / n
    print(f"{tag}   kernels: {total / 1e3:.3f} ms a replay summed, {span / 1e3:.3f} ms first start to last end "
          f"(profiled), {len(kernels) / n:.0f} launches", flush=True)
    for name, (t, c) in sorted(names.items(), key=lambda kv: -kv[1][0])[:18]:
        print(f"{tag}   {t:9.1f} us {c:5.0f} calls {t / max(c, 1):8.2f} us each  {name[:90]}", flush=True)
    linear = [e.time_range.elapsed_us() for e in kernels
              if ("_decode" in e.name or "bucket" in e.name) and "attention" not in e.name]
    by_proj = {}
    if len(linear) % (4 * n) == 0 and linear:
        for j, proj in enumerate(PROJ):
            vals = linear[j::4]
            by_proj[proj] = statistics.median(vals)
        print(f"{tag}   linear kernels by projection (median us): " +
              ", ".join(f"{p} {us:.1f}" for p, us in by_proj.items()), flush=True)
    return {"kernels": names, "linear_by_proj": by_proj, "summed_ms": total / 1e3, "span_ms": span / 1e3}


config = bs.llama2_7b_config(num_hidden_layers=32)
base = bs.random_base(config, 1, dev)
with tempfile.TemporaryDirectory() as tmp:
    store = LutStore(Path(tmp) / "store-gpr1", base.spec(), verify_on_open=False)
    tasks = [f"task{i}" for i in range(5)]  # as bench_serving: max(--tasks) + 1, the last one cold
    bs.fill_store(base, store, tasks, Path(tmp))
    tuning0 = autotune.tuning_stats()
    t0 = time.perf_counter()
    engine = bs.make_engine(base, store, args, num_slots=6, max_batch=64)
    out["engine_start_s"] = time.perf_counter() - t0
    tuning = autotune.tuning_stats()
    out["autotune"] = {k: tuning[k] - tuning0[k] for k in tuning}
    print(f"{tag} engine start {out['engine_start_s']:.1f} s, autotune {out['autotune']}, decode steps a plan "
          f"{engine.scheduler.config.decode_steps}, overlap {engine.overlap}", flush=True)
    kv_token = bs.bytes_per_block(engine.model_config, 1, torch.float16)
    lm_head = base.dense.get("lm_head.weight", base.dense["model.embed_tokens.weight"])
    fixed, lut_bytes = base.codes_bytes() + lm_head.numel() * 2, engine.pool.lut_set_bytes

    def floor_of(n_tasks, batch, ctx):
        return (fixed + n_tasks * lut_bytes + batch * ctx * kv_token) / args.bandwidth

    bs.warm_up(engine, tasks[:4])
    pairs = time_replays(engine.runner.graphs)

    def point_and_graph(n, note=""):
        """bench_serving's decode point over n tasks, its graph's GPU time in the run, then that graph (holding the
        run's last step's inputs: n tasks) replayed back to back."""
        k0 = len(pairs)
        point = bs.decode_point(engine, base, tasks[:n], 64, args, floor_of)
        torch.cuda.synchronize()
        gpu = sorted(s.elapsed_time(e) for key, s, e in pairs[k0:] if key[0] == 64)
        point["graph_ms_in_run"] = gpu[len(gpu) // 2] if gpu else None
        print(f"gpr=1 batch=64 tasks={n}: {point['tok_per_s']:.1f} tok/s, step {point['step_ms']:.2f} ms "
              f"(floor {point['floor_ms']:.2f} ms) {tag}{note}", flush=True)
        if gpu:
            print(f"{tag}   its batch-64 graph in the run: median {gpu[len(gpu) // 2]:.3f} ms on the GPU over "
                  f"{len(gpu)} replays (p10 {gpu[len(gpu) // 10]:.3f}, p90 {gpu[9 * len(gpu) // 10]:.3f}): "
                  f"{point['step_ms'] - gpu[len(gpu) // 2]:.3f} ms a step beyond it", flush=True)
        graphs = engine.runner.graphs.graphs
        key = max((k for k in graphs if k[0] == 64), key=lambda k: (k[1], k[2]), default=None)
        if key is None:
            print(f"{tag}   no batch-64 graph captured", flush=True)
            return point, None, None
        graph = graphs[key][0]
        point["replay_ms"] = graph_replays(graph, cli.replays)
        print(f"{tag}   graph {key} ({n} task(s)) replayed back to back: median {point['replay_ms']:.3f} ms",
              flush=True)
        return point, graph, key

    def profiled(graph, key, n):
        try:
            prof = breakdown(graph, cli.profile_replays)
        except Exception as e:  # noqa: BLE001 - the timings stand without it
            print(f"{tag}   profile failed: {e!r}", flush=True)
            prof = {}
        out["graphs"].append({"tasks": n, "key": list(key)} | prof)

    # bench_serving's two points first, with no profiler started in the process yet
    timed_points = [point_and_graph(n) for n in (1, 4)]
    out["points"] = [p for p, _, _ in timed_points]
    _, graph, key = timed_points[-1]
    if graph is not None:
        print(f"{tag} profile of the 64 x 4 graph:", flush=True)
        profiled(graph, key, 4)
    # 64 x 1 once more (after the profiler: its time is not the A/B figure) to profile its graph on 1-task inputs
    point, graph, key = point_and_graph(1, " (again, after a profile)")
    out["point_after_profile"] = point
    if graph is not None:
        print(f"{tag} profile of the 64 x 1 graph:", flush=True)
        profiled(graph, key, 1)
    out["choices"] = {k: v for k, v in autotune._MEMORY.items()
                      if k.startswith(("decode|64,", "bucket|64,")) and ",4,1,torch.float16," in k}
    for k, v in sorted(out["choices"].items()):
        print(f"{tag} choice {k}: {v}", flush=True)
with open(cli.jsonl, "a") as f:
    f.write(json.dumps(out) + "\n")
PY

cat > /tmp/ss26_op.py <<'PY'
"""The op alone at 64 tokens over 1 and 4 tasks: each shape's shipped choice (argv[2]'s decode|64 entries) through
kernels.triton_decode.launch_decode, PDL off and on in turns where this tree has PDL, timed as the autotuner times
(kernels.timing.graph_time_ms: CUDA graph, L2 cold); then the paged attention at batch 64. Runs on whichever tree's
kernels/ and server/ come first on sys.path (the current directory)."""
import contextlib
import json
import statistics
import sys

import torch

from kernels.reference import lut_linear_reference
from kernels.timing import graph_time_ms
from kernels.triton_decode import launch_decode
from server.triton_fused import paged_decode_attention

try:
    from kernels.triton_common import pdl_available, pdl_scope

    MODES = (False, True) if pdl_available(torch.device("cuda")) else (False,)
except ImportError:  # the thirteenth session's tree: no PDL
    pdl_scope, MODES = None, (False,)
label, tuned = sys.argv[1], json.load(open(sys.argv[2]))
print(f"[{label}] kernels from {sys.modules['kernels'].__file__}; PDL modes {MODES}", flush=True)


def timed(fn, rounds=3):
    times = {p: [] for p in MODES}
    for _ in range(rounds):
        for p in MODES:
            with pdl_scope(p) if pdl_scope is not None else contextlib.nullcontext():
                times[p].append(graph_time_ms(fn) * 1e3)
    return {p: statistics.median(v) for p, v in times.items()}


def show(name, t):
    ratio = f" (on / off {t[True] / t[False]:.3f})" if True in t else ""
    print(f"[{label}] {name}: " + " / ".join(f"PDL {'on' if p else 'off'} {us:.1f} us" for p, us in t.items()) + ratio,
          flush=True)


g = torch.Generator(device="cuda").manual_seed(0)
for n, k in ((4096, 4096), (12288, 4096), (22016, 4096), (4096, 11008), (11008, 4096)):
    cfg = tuned.get(f"decode|64,{n},{k},4,1,torch.float16,torch.float16")
    if cfg is None:
        print(f"[{label}] {n}x{k}: no shipped 64-token choice", flush=True)
        continue
    codes = torch.randint(0, 256, (n, k // 2), generator=g, device="cuda", dtype=torch.uint8)
    pool = (torch.randn(6, n, 1, 16, generator=g, device="cuda") * 0.02).half()
    x = torch.randn(64, k, generator=g, device="cuda").half()
    y = torch.empty(64, n, dtype=torch.float16, device="cuda")
    for tasks in (1, 4):
        slots = (torch.arange(64, device="cuda") % tasks).to(torch.int32)
        ref = lut_linear_reference(x, codes, pool, slots, 4).float()
        y.fill_(float("nan"))
        launch_decode(x, codes, pool, slots, 4, y, cfg)
        torch.cuda.synchronize()
        err = ((y.float() - ref).norm() / ref.norm()).item()
        show(f"linear {n}x{k} M=64 T={tasks} {cfg} (rel err {err:.1e})",
             timed(lambda: launch_decode(x, codes, pool, slots, 4, y, cfg)))  # noqa: B023
        del ref
    del codes, pool, x, y
    torch.cuda.empty_cache()
B, H, HD, BS, CTX, W = 64, 32, 128, 16, 160, 16  # the 7B's heads, 16-token blocks, a width-16 table as served
kc = (torch.randn(B * W + 1, BS, H, HD, generator=g, device="cuda") * 0.5).half()
vc = (torch.randn(B * W + 1, BS, H, HD, generator=g, device="cuda") * 0.5).half()
bt = (torch.arange(B * W, device="cuda").view(B, W) + 1).to(torch.int64)
lens = torch.full((B,), CTX, dtype=torch.int32, device="cuda")
q = torch.randn(B, H, HD, generator=g, device="cuda").half()
show(f"paged attention B={B} H={H} ctx {CTX} width {W}", timed(lambda: paged_decode_attention(q, kc, vc, bt, lens, HD**-0.5)))
PY

serving() {  # label, timeout cap, then env assignments
  local label=$1 t; t=$(cap $2); shift 2
  [ "$t" -ge 30 ] || { echo "== $label skipped (${SECONDS} s)"; return; }
  mkdir -p /tmp/ss26_$label
  env SKETCHSERVE_CACHE=/tmp/ss26_$label "$@" timeout $t python3 /tmp/ss26_b64.py --label $label --jsonl $J 2>&1 \
    | grep -v "Warn\|warn_once" > $OUT/b64_${label}_twentysixth.log
  echo "== $label (${SECONDS} s)"; grep -E "tok/s|in the run|back to back|by projection|autotune|choice decode" \
    $OUT/b64_${label}_twentysixth.log
}

serving pdl1 150
serving pdl0 100 SKETCHSERVE_PDL=0
t=$(cap 100); if [ "$t" -ge 30 ]; then
  SKETCHSERVE_CACHE=/tmp/ss26_op timeout $t python3 /tmp/ss26_op.py new $SHIPPED 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/op_m64_new_twentysixth.log; echo "== op new (${SECONDS} s)"
fi
t=$(cap 80); if [ -f .device-carry/k13/kernels/triton_decode_prmt.py ] && [ "$t" -ge 30 ]; then
  (cd .device-carry/k13 && PYTHONPATH=$PWD:/tmp/site SKETCHSERVE_CACHE=/tmp/ss26_op13 timeout $t python3 /tmp/ss26_op.py \
    thirteenth $SHIPPED 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/op_m64_thirteenth_twentysixth.log)
  echo "== op thirteenth (${SECONDS} s)"
else
  echo "== op thirteenth skipped (no .device-carry/k13 or no time)"
fi
serving pdl1_again 90
mkdir -p /tmp/ss26_retune64/autotune
python3 -c "import json; d = json.load(open('$SHIPPED')); json.dump({k: v for k, v in d.items() if not k.startswith('decode|64,')}, open('/tmp/ss26_retune64/autotune/NVIDIA_H200.v8.json', 'w'))"
serving retune64 110 SKETCHSERVE_SHIPPED_TUNING=0
python3 - <<'PY'
import json, os
shipped = json.load(open("kernels/tuned/NVIDIA_H200.v8.json"))
for line in open(os.environ["OUT"] + "/b64_twentysixth.jsonl"):
    r = json.loads(line)
    pts = ", ".join(f"64x{p['tasks']} {p['step_ms']:.2f} ms (graph {p['graph_ms_in_run'] or 0:.2f})" for p in r["points"])
    print(f"{r['label']:>11}: {pts}")
    if r["label"] == "retune64":
        for k, v in sorted(r["choices"].items()):
            if k.startswith("decode|64,") and shipped.get(k) != v:
                print(f"   re-tuned {k}: {v} (shipped {shipped.get(k)})")
PY
env_log end
