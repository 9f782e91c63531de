"""Serving benchmark: many tasks of one sketched Llama-2-7B-shaped model through the engine.

    python3 benchmarks/bench_serving.py [--out DIR] [--gpr 1 4] [--peers] [--tiny]

Random weights (codes drawn directly as packed bytes on the device, LUTs random): speed only. Per gpr:
  - decode tok/s at batch 1/16/32/64 with 1/4/16 distinct tasks (median full-batch step; 32, which the issue does
    not name, because continuous batching often runs there), against the bandwidth floor of a step:
    (codes + dense lm_head + distinct tasks x LUT set + KV read) / --bandwidth;
  - time to first token of a 512-token prompt (task resident), and cold (its LUT loaded from disk first);
  - GPU memory of the base and of one resident task; LUT load time disk -> slot;
  - gpr 1: how many tasks a pool sized from the GPU's free memory holds (allocated, and a batch run over it);
  - what a first start costs: the engine's start (on CUDA its kernel tuning, EngineConfig.tune_at_start), the
    warm-up, and all autotuning in the run (none should follow the start).
--peers adds HF transformers fp16 generate and peft with 4 LoRA adapters mixed in one batch, same shapes.
--tiny runs everything on a tiny model on the CPU (a check that the script works, numbers meaningless).
Writes DIR/serving[_tiny].json and DIR/serving[_tiny].png.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import server.model  # noqa: E402
from adapters.store import LutStore  # noqa: E402
from kernels import autotune  # noqa: E402
from server.config import CacheConfig, EngineConfig, PoolConfig, SchedulerConfig, int8_activations_run_on  # noqa: E402
from server.engine import Engine  # noqa: E402
from server.kv_cache import bytes_per_block  # noqa: E402
from server.model import ModelConfig  # noqa: E402
from server.runner import GRAPH_BATCH_SIZES  # noqa: E402
from server.sampling import SamplingParams  # noqa: E402
from server.stats import StepStats  # noqa: E402
from sketch.format import SketchedBase  # noqa: E402
from sketch.synthetic import llama2_7b_config, llama_config, projection_shapes  # noqa: E402
from sketch.task_lut import TaskLut, save_task_lut  # noqa: E402

BITS = 4
GiB = 1 << 30


def random_base(config: dict, gpr: int, device: torch.device, seed: int = 0) -> SketchedBase:
    """Random packed bytes are uniformly random 4-bit codes: no unpacked [N, K] tensor is ever made."""
    g = torch.Generator(device=device).manual_seed(seed)
    codes, luts = {}, {}
    for name, (n, k) in projection_shapes(config).items():
        codes[name] = torch.randint(0, 256, (n, (k + 1) // 2), generator=g, device=device, dtype=torch.uint8)
        luts[name] = (torch.randn(n, gpr, 2**BITS, generator=g, device=device) / k**0.5).sort(-1).values.half()
    d, vocab = config["hidden_size"], config["vocab_size"]
    dense = {
        "model.embed_tokens.weight": (torch.randn(vocab, d, generator=g, device=device) * 0.02).half(),
        "lm_head.weight": (torch.randn(vocab, d, generator=g, device=device) / d**0.5).half(),
        "model.norm.weight": torch.ones(d, device=device, dtype=torch.float16),
    }
    for i in range(config["num_hidden_layers"]):
        for norm in ("input_layernorm", "post_attention_layernorm"):
            dense[f"model.layers.{i}.{norm}.weight"] = torch.ones(d, device=device, dtype=torch.float16)
    return SketchedBase(config, BITS, gpr, codes, luts, projection_shapes(config), dense, "random",
                        fingerprint=f"random-{seed}-gpr{gpr}")


# Task LUTs: the base's values times 1 + spread x N(0, 1), so each task's LUT set lies ~spread from the base's
# (LutPool.lut_distance). Speed does not depend on the values but for the int8 activation mode, which serves a step
# with the int8 kernel only for tasks within int8_max_lut_distance (0.05): there 0.02, as far as a real fine-tune
# moved a projection's weights (a math task LUT of the default model: 2.5 % at its largest projection).
TASK_SPREAD, INT8_TASK_SPREAD = 0.2, 0.02


def task_spread(args) -> float:
    return INT8_TASK_SPREAD if getattr(args, "int8_activations", False) else TASK_SPREAD


def fill_store(base: SketchedBase, store: LutStore, tasks: list[str], workdir: Path,
               spread: float = TASK_SPREAD) -> None:  # fmt: skip
    for i, task in enumerate(tasks):
        g = torch.Generator(device=next(iter(base.luts.values())).device).manual_seed(1000 + i)
        luts = {n: (t.float() * (1 + spread * torch.randn(t.shape, generator=g, device=t.device))).half()
                for n, t in base.luts.items()}
        path = save_task_lut(TaskLut(task, luts, base.fingerprint, base.bits, base.gpr), workdir / "upload.safetensors")
        store.put(task, path)


def token_budget(max_batch: int) -> int:
    """The engine's prefill tokens per step (make_engine)."""
    return max(512, max_batch)


def tokens_to_decode(args, batch: int, budget: int) -> int:
    """What decode_point asks of each request: args.new_tokens after the last of batch prompts is prefilled,
    budget prompt tokens per step, the first requests decoding meanwhile."""
    return args.new_tokens + -(-batch * args.prompt // budget)


def kv_bytes_for(base: SketchedBase, args, max_batch: int, max_len: int) -> int:
    """KV for max_batch decode sequences plus one max_len prompt (blocks are shared, not per sequence)."""
    per_sequence = args.prompt + tokens_to_decode(args, max_batch, token_budget(max_batch)) + 16
    tokens = max_batch * per_sequence + max_len + 64
    dtype = getattr(torch, serving_dtype(args))  # the engine's KV dtype (make_engine)
    return tokens * bytes_per_block(ModelConfig.from_hf(base.config), 1, dtype)


def serving_dtype(args) -> str:
    """The engine's dtype: --dtype, or float16 on CUDA and float32 on the CPU (auto)."""
    if getattr(args, "dtype", "auto") != "auto":
        return args.dtype
    return "float16" if args.device.type == "cuda" else "float32"


def make_engine(base, store, args, num_slots: int, max_batch: int, pool_bytes: int = 0) -> Engine:
    decoded = tokens_to_decode(args, max_batch, token_budget(max_batch))
    max_len = max(args.ttft_prompt + args.new_tokens, args.prompt + decoded) + 16
    config = EngineConfig(
        device=str(args.device), dtype=serving_dtype(args),
        stats_window=1 << 20,  # decode_point slices the steps of its own run out of the engine's history
        cuda_graph_max_batch=args.cuda_graph_max_batch,
        cpu_weight_dtype=args.cpu_weight_dtype,
        overlap_scheduling=getattr(args, "overlap_scheduling", "auto"),
        int8_activations=getattr(args, "int8_activations", False),
        cache=CacheConfig(block_size=16, kv_cache_bytes=kv_bytes_for(base, args, max_batch, max_len)),
        pool=PoolConfig(num_slots=num_slots, pool_bytes=pool_bytes, cpu_tier_bytes=4 * GiB),
        scheduler=SchedulerConfig(max_num_seqs=max_batch, max_num_batched_tokens=token_budget(max_batch),
                                  max_model_len=max_len, max_waiting=4096,
                                  decode_steps=getattr(args, "decode_steps", SchedulerConfig.decode_steps)),
    )
    return Engine(base, None, config, store)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def prompts(n: int, length: int, vocab: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(3, vocab, (n, length), generator=g).tolist()


def decode_point(engine: Engine, base: SketchedBase, tasks: list[str], batch: int, args, floor_of) -> dict:
    """batch requests spread over tasks round-robin; tok/s from the median full-batch decode step.

    Long prompts are prefilled a token budget per step while the admitted requests already decode: each request
    generates enough tokens to still run when the last prompt is in (then args.new_tokens full-batch steps)."""
    tokens = tokens_to_decode(args, batch, engine.config.scheduler.max_num_batched_tokens)
    params = SamplingParams(max_tokens=tokens, ignore_eos=True)
    # prompts new to every point: no point's prefill is shortened by an earlier point's cached prefixes
    for i, p in enumerate(prompts(batch, args.prompt, base.config["vocab_size"], seed=1000 * batch + len(tasks))):
        engine.add_request(tasks[i % len(tasks)], p, params)
    first = len(engine.stats().recent_steps)
    engine.run_until_idle()
    steps = [s for s in engine.stats().recent_steps[first:] if s.prefill_tokens == 0 and s.batch_size == batch]
    if not steps:
        raise RuntimeError(f"no decode step ran the full batch of {batch}: requests did not overlap")
    times = decode_step_times(steps)
    median = times[len(times) // 2]
    ctx = args.prompt + args.new_tokens // 2
    floor = floor_of(len(tasks), batch, ctx)
    return {"batch": batch, "tasks": len(tasks), "decode_steps": len(times), "step_ms": median * 1e3,
            "tok_per_s": batch / median, "floor_ms": floor * 1e3, "floor_ratio": median / floor}


def staggered_point(engine: Engine, base: SketchedBase, tasks: list[str], batch: int, args, seed: int = 0) -> dict:
    """batch requests over tasks round-robin whose lengths differ (max_tokens spread evenly from a quarter of
    args.new_tokens to twice it): requests finish one by one, so most decode steps run a batch size that is not a
    graph size and are padded up to one, as in a server. Output tokens/s over the whole run, prefills included, and
    the decode steps' batch sizes. The first run of a mix captures graphs (batch sizes, block-table widths and task
    counts new to the engine): time a second one, with new prompts (seed). steps: each engine step's batch size,
    distinct tasks, prefill tokens, model steps and milliseconds."""
    lo, hi = max(1, args.new_tokens // 4), 2 * args.new_tokens
    lengths = [lo + (hi - lo) * i // max(1, batch - 1) for i in range(batch)]
    for i, p in enumerate(prompts(batch, args.prompt, base.config["vocab_size"], seed=77 * batch + len(tasks) + seed)):
        engine.add_request(tasks[i % len(tasks)], p, SamplingParams(max_tokens=lengths[i], ignore_eos=True))
    first = len(engine.stats().recent_steps)
    sync(args.device)
    t0 = time.perf_counter()
    engine.run_until_idle()
    sync(args.device)
    wall = time.perf_counter() - t0
    ran = engine.stats().recent_steps[first:]
    steps = [s for s in ran if s.prefill_tokens == 0]
    graph_sizes = set(GRAPH_BATCH_SIZES)
    padded = sum(s.decode_steps for s in steps if s.batch_size not in graph_sizes)
    trace = [[s.batch_size, s.num_tasks, s.prefill_tokens, s.decode_steps, round(1e3 * s.duration_s, 3)] for s in ran]
    return {"batch": batch, "tasks": len(tasks), "tokens": sum(lengths), "wall_s": wall,
            "tok_per_s": sum(lengths) / wall, "decode_steps": sum(s.decode_steps for s in steps),
            "padded_decode_steps": padded,
            "steps": {"fields": ["batch", "tasks", "prefill_tokens", "decode_steps", "ms"], "rows": trace}}


def decode_step_times(steps: list[StepStats]) -> list[float]:
    """Seconds per model step, sorted: a multi-step decode's plan counts as its steps, each its share of the time."""
    return sorted(t for s in steps for t in [s.duration_s / s.decode_steps] * s.decode_steps)


def warm_up(engine: Engine, tasks: list[str]) -> None:
    """Every task's LUT resident (loads are timed separately) and, in the int8 activation mode, its distance from the
    base's measured (until then its steps run exact), kernels compiled, decode graphs captured."""
    for task in tasks:
        list(engine.generate(task, [1, 2, 3], SamplingParams(max_tokens=4, ignore_eos=True)))
        if (key := engine.pool.latest_key(task)) is not None:  # (the base's is 0)
            engine.pool.wait_for_distance(key)


def ttft(engine: Engine, base: SketchedBase, task: str, length: int, seed: int = 7) -> float:
    [ids] = prompts(1, length, base.config["vocab_size"], seed=seed)
    engine.do_idle_work()  # a served engine's idle moment before the request (prefill-graph captures)
    outs = list(engine.generate(task, ids, SamplingParams(max_tokens=1, ignore_eos=True)))
    return outs[-1].ttft_s


def ttft_graph_vs_eager(engine: Engine, base: SketchedBase, task: str, length: int, short: int = 32) -> dict:
    """TTFT of a short prompt, and of a length-token prompt met before (its cached prefix leaves one 16-token
    step), with steps of prefill chunks replaying the decode graphs (graph_prefill, server/runner.py) and launched
    eagerly. Prompts are new each time; each shape runs once first (graph capture, kernel choice)."""
    out = {}
    prefill_graphs = engine.runner.prefill_graphs
    for mode, on in (("graph", True), ("eager", False)):
        engine.runner.graph_prefill = on
        engine.runner.prefill_graphs = prefill_graphs if on else None
        seed = 100 + 10 * on
        ttft(engine, base, task, short, seed=seed)
        first = ttft(engine, base, task, short, seed=seed + 1)
        cached = [ttft(engine, base, task, length, seed=seed + 2 + i // 2) for i in range(4)][-1]  # 2nd of 2nd pair
        out[mode] = {"short_tokens": short, "short_s": first, "prefix_cached_s": cached}
    engine.runner.graph_prefill = engine.config.graph_prefill
    engine.runner.prefill_graphs = prefill_graphs
    return out


def ttft_prefill_graphs(engine: Engine, base: SketchedBase, task: str, length: int) -> dict:
    """TTFT of a new length-token prompt with the piecewise prefill graphs (server/prefill_graphs.py) and without
    (every step of it eager): the median of three new prompts each."""
    prefill_graphs, out = engine.runner.prefill_graphs, {}
    for mode, graphs in (("graphs", prefill_graphs), ("eager", None)):
        engine.runner.prefill_graphs = graphs
        times = sorted(ttft(engine, base, task, length, seed=300 + 10 * (graphs is None) + i) for i in range(3))
        out[mode] = times[1]
    engine.runner.prefill_graphs = prefill_graphs
    return out


def burst(engine: Engine, base: SketchedBase, task: str | list[str], n: int, prefix: int, shared: bool,
          seed: int) -> dict:  # fmt: skip
    """n requests at once, each a prefix-token head (one shared head, or each its own) plus 16 tokens of its own,
    one token generated: their mean TTFT and the time until the last finished (prefix caching shares a shared
    head from the first step on). task: one task, or a list the requests take in turn."""
    tasks = [task] if isinstance(task, str) else task
    vocab = base.config["vocab_size"]
    heads = prompts(1 if shared else n, prefix, vocab, seed=seed)
    tails = prompts(n, 16, vocab, seed=seed + 1)
    params = SamplingParams(max_tokens=1, ignore_eos=True)
    engine.do_idle_work()  # the idle moment before the burst
    start = time.perf_counter()
    handles = [engine.add_request(tasks[i % len(tasks)], heads[0 if shared else i] + tails[i], params)
               for i in range(n)]  # fmt: skip
    engine.run_until_idle()
    wall = time.perf_counter() - start
    ttfts = [[o for o in h.poll() if o.finished][0].ttft_s for h in handles]
    return {"requests": n, "prefix_tokens": prefix, "shared": shared, "tasks": len(tasks),
            "mean_ttft_s": sum(ttfts) / n, "wall_s": wall}  # fmt: skip


@functools.lru_cache(maxsize=1)
def load_base(spec: str) -> SketchedBase:
    """A real sketched base (host tensors; the engine moves them): a directory, or 'default' (the embedded
    model's cached 4-bit gpr-4 sketch). Loaded once: main reads its shape, run_gpr serves it."""
    from sketch.format import load_sketched_base
    from sketch.pipeline import ensure_default_sketch

    return load_sketched_base(ensure_default_sketch() if spec == "default" else Path(spec))


def run_gpr(gpr: int, config: dict, args, workdir: Path) -> dict:
    device = args.device
    sync(device)
    mem0 = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    t0 = time.perf_counter()
    base = random_base(config, gpr, device) if args.model is None else load_base(args.model)
    sync(device)
    # a real base was loaded once in main: its load time, not this cache hit
    out: dict = {"gpr": gpr, "base_build_s": time.perf_counter() - t0 if args.model is None else args.base_load_s}
    out["base_bytes"] = (torch.cuda.memory_allocated() - mem0) if device.type == "cuda" else (
        base.codes_bytes() + sum(t.numel() * t.element_size() for t in base.dense.values()))
    store = LutStore(workdir / f"store-gpr{gpr}", base.spec(), verify_on_open=False)
    n_tasks = max(args.tasks)
    tasks = [f"task{i}" for i in range(n_tasks + 1)]  # the last one stays cold for the load-time and cold TTFT
    t0 = time.perf_counter()
    fill_store(base, store, tasks, workdir, task_spread(args))
    out["store_fill_s"] = time.perf_counter() - t0
    out["task_lut_spread"] = task_spread(args)
    tuning0 = autotune.tuning_stats()
    t0 = time.perf_counter()
    engine = make_engine(base, store, args, num_slots=n_tasks + 2, max_batch=max(args.batches))
    out["engine_start_s"] = time.perf_counter() - t0  # on CUDA: the kernels' start-up tuning (tune_at_start)
    out["decode_steps_per_plan"] = engine.scheduler.config.decode_steps  # multi-step decoding (0 resolved)
    out["overlap_scheduling"] = engine.overlap
    tuning_started = autotune.tuning_stats()
    out["lut_set_bytes"] = engine.pool.lut_set_bytes
    mc = engine.model_config
    kv_token = bytes_per_block(mc, 1, engine.runner.kv_cache.layers[0][0].dtype)
    lm_head = base.dense.get("lm_head.weight", base.dense["model.embed_tokens.weight"])  # tied: the embedding
    fixed_bytes = base.codes_bytes() + lm_head.numel() * 2  # read by every step
    lut_bytes = engine.pool.lut_set_bytes

    def floor_of(n_tasks: int, batch: int, ctx: int) -> float:
        return (fixed_bytes + n_tasks * lut_bytes + batch * ctx * kv_token) / args.bandwidth

    t0 = time.perf_counter()
    warm_up(engine, tasks[:n_tasks])
    out["warm_up_s"] = time.perf_counter() - t0
    out["decode"] = []
    for batch in args.batches:
        for n in [t for t in args.tasks if t <= batch]:
            point = decode_point(engine, base, tasks[:n], batch, args, floor_of)
            print(f"gpr={gpr} batch={batch} tasks={n}: {point['tok_per_s']:.1f} tok/s, step {point['step_ms']:.2f} ms"
                  f" (floor {point['floor_ms']:.2f} ms)", flush=True)
            out["decode"].append(point)
    out["staggered"] = []
    staggered = min(16, max(args.batches))
    for n in sorted({1, n_tasks}) if staggered > 1 else []:
        first = staggered_point(engine, base, tasks[:n], staggered, args, seed=1)  # runs its new graph keys once
        engine.do_idle_work()  # and they are captured in the idle moment after it
        point = staggered_point(engine, base, tasks[:n], staggered, args, seed=2) | {"first_wall_s": first["wall_s"]}
        print(f"gpr={gpr} staggered {staggered} requests over {n} task(s): {point['tok_per_s']:.1f} tok/s over "
              f"{point['wall_s']:.2f} s, the first such run {first['wall_s']:.2f} s ({point['padded_decode_steps']} of "
              f"{point['decode_steps']} decode steps padded)", flush=True)
        out["staggered"].append(point)
    if device.type == "cuda":
        out["ttft_graph_vs_eager"] = ttft_graph_vs_eager(engine, base, tasks[0], args.ttft_prompt, args.short_prompt)
        print(f"gpr={gpr}: TTFT graph vs eager prefill steps: " + ", ".join(
            f"{mode} {v['short_s'] * 1e3:.1f} ms ({v['short_tokens']} tokens) / {v['prefix_cached_s'] * 1e3:.1f} ms "
            f"({args.ttft_prompt} cached)" for mode, v in out["ttft_graph_vs_eager"].items()), flush=True)
    if device.type == "cuda" and engine.runner.prefill_graphs is not None:
        out["ttft_prefill_graphs"] = ttft_prefill_graphs(engine, base, tasks[0], args.ttft_prompt)
        print(f"gpr={gpr}: TTFT {args.ttft_prompt} new tokens, prefill graphs / eager steps: "
              f"{out['ttft_prefill_graphs']['graphs'] * 1e3:.1f} / {out['ttft_prefill_graphs']['eager'] * 1e3:.1f} ms",
              flush=True)  # fmt: skip
    out["ttft_warm_s"] = ttft(engine, base, tasks[0], args.ttft_prompt)  # a prompt no request had before
    out["ttft_prefix_cached_s"] = ttft(engine, base, tasks[0], args.ttft_prompt)  # again: its full blocks reused
    out["ttft_cold_s"] = ttft(engine, base, tasks[-1], args.ttft_prompt)  # includes its LUT's load
    # a burst of 16 with one system prompt against 16 different ones (prompts new to the cache either way)
    out["burst"] = [burst(engine, base, tasks[0], 16, args.ttft_prompt, shared, seed=11 + 2 * shared)
                    for shared in (False, True)]  # fmt: skip
    # and each request of another task (the resident ones in turn): steps hold several tasks' chunks
    # twice: the first runs the prefill graphs' new keys of such steps eagerly, and they are captured (L + 1 graphs
    # each) in the idle moment after it; the second replays them
    for seed in (17, 19):
        graphs = engine.runner.prefill_graphs
        known = set(graphs.capture_seconds) if graphs is not None else set()
        out["burst"].append(burst(engine, base, tasks[:n_tasks], 16, args.ttft_prompt, False, seed=seed))
        t0 = time.perf_counter()
        engine.do_idle_work()  # a served engine's idle moment after the burst: the keys it ran once are captured
        out["burst"][-1]["idle_work_s"] = time.perf_counter() - t0
        if graphs is not None:
            new = [graphs.capture_seconds[k] for k in graphs.capture_seconds if k not in known]
            out["burst"][-1]["keys_captured"] = len(new)
            # (first step, capture) seconds of each new key: what the first run of a new mix pays
            out["burst"][-1]["capture_s"] = [list(t) for t in new]
    tuning = autotune.tuning_stats()  # the first start's cost on a GPU whose choices are not cached
    out["autotune"] = {k: tuning[k] - tuning0[k] for k in tuning}
    out["autotune_after_start"] = {k: tuning[k] - tuning_started[k] for k in tuning}  # shapes the start missed
    print(f"gpr={gpr}: engine start {out['engine_start_s']:.1f} s, warm-up {out['warm_up_s']:.1f} s; autotune "
          f"{out['autotune']['keys']} shapes, {out['autotune']['candidates']} candidates, "
          f"{out['autotune']['seconds']:.1f} s in all, {out['autotune_after_start']['keys']} shapes after the start",
          flush=True)
    pool = engine.pool.stats()
    out["lut_load_s"] = {"last": pool.last_load_s, "mean": pool.mean_load_s}
    out["lut_distance_s"] = {"mean": pool.mean_distance_s}  # the int8 mode: each new version's, after its load
    out["pool"] = {"slots_total": pool.slots_total, "hits": pool.hits, "misses": pool.misses}
    print(f"gpr={gpr}: TTFT {args.ttft_prompt} tokens {out['ttft_warm_s'] * 1e3:.1f} ms warm, "
          f"{out['ttft_prefix_cached_s'] * 1e3:.1f} ms on its cached prefix, "
          f"{out['ttft_cold_s'] * 1e3:.1f} ms cold; LUT load {pool.mean_load_s * 1e3:.1f} ms"
          + (f", then its distance {pool.mean_distance_s * 1e3:.1f} ms" if engine.pool.measure_distance else ""),
          flush=True)
    kinds = [f"{'one shared head' if b['shared'] else 'own heads'}, {b['tasks']} task(s)"
             + (f", {b['keys_captured']} graph keys captured" if "keys_captured" in b else "")
             + (f" (first steps {sum(f for f, _ in b['capture_s']) * 1e3:.0f} ms, captures "
                f"{sum(c for _, c in b['capture_s']) * 1e3:.0f} ms; {b['idle_work_s'] * 1e3:.0f} ms of them idle, "
                "after the burst)" if b.get("capture_s") else "")
             for b in out["burst"]]
    print(f"gpr={gpr}: burst of 16 x ({args.ttft_prompt} + 16 tokens): mean TTFT "
          + ", ".join(f"{b['mean_ttft_s'] * 1e3:.1f} ms ({kind})" for b, kind in zip(out["burst"], kinds, strict=True)),
          flush=True)  # fmt: skip
    engine.stop()
    del engine
    if gpr == 1:
        out["residency"] = residency(base, store, tasks, args)
    del base
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


H100_80GB_BYTES = 81_559 * 2**20  # nvidia-smi's memory.total of an H100 80GB HBM3


def residency(base: SketchedBase, store: LutStore, tasks: list[str], args) -> dict:
    """A pool sized from the free GPU memory (--memory-gb on the CPU), less the KV cache and a reserve."""
    per_task = sum(t.numel() for t in base.luts.values()) * 2
    if args.device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        free, total = torch.cuda.mem_get_info()
    else:
        total = free = int(args.memory_gb * GiB) - base.codes_bytes()
    max_len = max(args.ttft_prompt, args.prompt) + args.new_tokens + 16
    kept = args.reserve_gb * GiB + kv_bytes_for(base, args, 64, max_len)  # out of the pool
    pool_bytes = int(free - kept)
    slots = pool_bytes // per_task
    out = {"gpu_total_bytes": total, "free_bytes": free, "lut_set_bytes": per_task, "slots_affordable": int(slots),
           # the 80 GB GPU: its memory less what this process holds here (base, context) and the same
           # reserve and KV cache, in LUT sets (a projection from measured bytes, not a run on that GPU)
           "slots_on_80gb": int((H100_80GB_BYTES - (total - free) - kept) // per_task)}
    if args.device.type == "cuda" and slots > 1:
        engine = make_engine(base, store, args, num_slots=0, max_batch=64, pool_bytes=pool_bytes)
        out["slots_allocated"] = engine.pool.num_slots
        warm_up(engine, tasks[:-1])
        point = decode_point(engine, base, tasks[:-1], 64, args, lambda *a: float("nan"))
        out["batch64_tok_per_s_with_big_pool"] = point["tok_per_s"]
        out["peak_allocated_bytes"] = torch.cuda.max_memory_allocated()
        engine.stop()
    print(f"residency: {out.get('slots_allocated', slots) - 1} gpr=1 tasks resident; on an 80 GB GPU "
          f"~{out['slots_on_80gb'] - 1}", flush=True)
    return out


def peers(config: dict, args) -> dict:
    """HF transformers fp16 generate, and peft with 4 LoRA adapters (r=16, all linear layers) mixed in a batch."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    device, dtype = args.device, torch.float16 if args.device.type == "cuda" else torch.float32
    hf = AutoConfig.for_model(config["model_type"], **{k: v for k, v in config.items() if k != "model_type"})
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(hf, dtype=dtype).eval()
    out = {}

    def timed(m, batch, **kw) -> float:
        ids = torch.tensor(prompts(batch, args.prompt, config["vocab_size"], 3), device=device)
        kw = {"attention_mask": torch.ones_like(ids), "pad_token_id": 0, **kw}
        m.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, **kw)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        m.generate(ids, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False, **kw)
        sync(device)
        return batch * args.new_tokens / (time.perf_counter() - t0)

    for batch in (1, 16) if not args.tiny else (1, 4):
        out[f"hf_fp16_batch{batch}_tok_per_s"] = timed(model, batch)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    lora = get_peft_model(model, LoraConfig(r=16, target_modules=targets, init_lora_weights=False), adapter_name="a0")
    for i in range(1, 4):
        lora.add_adapter(f"a{i}", LoraConfig(r=16, target_modules=targets, init_lora_weights=False))
    lora.eval()
    for batch in (1, 16) if not args.tiny else (1, 4):
        names = [f"a{i % 4}" for i in range(batch)]
        out[f"peft_4lora_batch{batch}_tok_per_s"] = timed(lora, batch, adapter_names=names)
    print("peers:", {k: round(v, 1) for k, v in out.items()}, flush=True)
    del model, lora
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for run in results["runs"]:
        points = run["decode"]
        labels = [f"b{p['batch']}/t{p['tasks']}" for p in points]
        ax1.plot(labels, [p["tok_per_s"] for p in points], "o-", label=f"sketchserve gpr={run['gpr']}")
        ax2.plot(labels, [p["step_ms"] for p in points], "o-", label=f"step gpr={run['gpr']}")
        ax2.plot(labels, [p["floor_ms"] for p in points], "x--", label=f"floor gpr={run['gpr']}")
    for name, value in results.get("peers", {}).items():
        ax1.axhline(value, ls=":", lw=1, color="gray")
        ax1.text(0, value, name, fontsize=7, va="bottom")
    ax1.set(title="decode throughput (batch / distinct tasks)", ylabel="tokens/s", yscale="log")
    ax2.set(title="decode step time vs bandwidth floor", ylabel="ms", yscale="log")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=45)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--gpr", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 32, 64])
    ap.add_argument("--tasks", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--prompt", type=int, default=128, help="prompt tokens of the decode runs")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--decode-steps", type=int, default=SchedulerConfig.decode_steps,
                    help="decode steps per schedule (multi-step decoding; 1 = off, 0 = the engine's auto)")
    ap.add_argument("--overlap-scheduling", default="auto", choices=("auto", "on", "off"),
                    help="schedule the next step while the GPU runs the one before (auto: on for CUDA)")
    ap.add_argument("--ttft-prompt", type=int, default=512)
    ap.add_argument("--short-prompt", type=int, default=32, help="prompt tokens of the graph-vs-eager TTFT")
    ap.add_argument("--cuda-graph-max-batch", type=int, default=64,
                    help="the engine's cuda_graph_max_batch: the most tokens a step replaying a graph has")
    ap.add_argument("--layers", type=int, default=32, help="decoder layers of the 7B shape (fewer = quicker)")
    ap.add_argument("--bandwidth", type=float, default=3.0e12, help="bytes/s of the floor (H100: 3.0e12 measured)")
    ap.add_argument("--reserve-gb", type=float, default=4.0,
                    help="GPU memory kept out of the residency pool besides the KV cache (activations, graphs)")
    ap.add_argument("--memory-gb", type=float, default=80.0, help="GPU memory assumed for residency on the CPU")
    ap.add_argument("--peers", action="store_true", help="also time HF transformers fp16 and peft LoRA")
    ap.add_argument("--tiny", action="store_true", help="tiny model on the CPU: checks the script, not speed")
    ap.add_argument("--exact-activations", action="store_true",
                    help="every step exact (the server's --exact-activations); by default the engine takes the "
                         "int8 activation mode where it runs (CUDA sm_90), as the server does")
    ap.add_argument("--int8-activations", action="store_true",
                    help="the int8 activation mode where it runs: the default (kept for older scripts)")
    ap.add_argument("--model", default=None,
                    help="a real sketched base instead of random weights: a directory, or 'default' (the embedded "
                         "model); its own gpr is used")
    ap.add_argument("--device", dest="device_name", default=None, help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--dtype", default="auto", choices=("auto", "float16", "bfloat16", "float32"),
                    help="the engine's activation / KV / LUT dtype (auto: float16 on CUDA, float32 on the CPU)")
    ap.add_argument("--cpu-weight-dtype", default="float32", choices=("float32", "bfloat16", "int8"),
                    help="CPU: dtype of the cached dense weights (the server's --cpu-weight-dtype)")
    args = ap.parse_args()
    args.device = torch.device(args.device_name or ("cuda" if torch.cuda.is_available() and not args.tiny else "cpu"))
    # the server's default (server/config.py from_settings): the int8 activation mode where it runs
    args.int8_activations = not args.exact_activations and int8_activations_run_on(args.device)
    if args.model is not None:
        t0 = time.perf_counter()
        base = load_base(args.model)
        args.base_load_s = time.perf_counter() - t0
        config, args.gpr = base.config, [base.gpr]  # its own shape and row-groups
    elif args.tiny:
        config = llama_config(vocab_size=512, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=4)
        args.batches, args.tasks = [1, 4], [1, 2]
        args.prompt, args.new_tokens, args.ttft_prompt, args.reserve_gb = 16, 8, 64, 0
        args.memory_gb = 0.05
    else:
        config = llama2_7b_config(num_hidden_layers=args.layers)
    results = {"device": torch.cuda.get_device_name() if args.device.type == "cuda" else "cpu",
               "config": {k: config[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers")},
               "args": {k: v for k, v in vars(args).items() if k not in ("out", "device")}, "runs": []}
    if args.model is not None:
        results["model"] = args.model
    if args.device.type == "cuda":  # which decode kernel the runs used (environment, read at import)
        from kernels import triton_ops

        results["decode_kernel"] = triton_ops.DECODE_KERNEL
        results["bucket_min_tasks"] = {m: triton_ops.bucket_min_tasks(m) for m in (1, 16, 32, 64)}
        results["task_classes"] = {m: triton_ops.task_classes(m) for m in (1, 16, 32, 64)}  # SKETCHSERVE_FEW_TASKS
        results["fused_ops"] = server.model.FUSED_OPS  # SKETCHSERVE_FUSED_OPS: norms/RoPE/SwiGLU as Triton kernels
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "serving_tiny" if args.tiny else "serving"
    if args.model is not None:
        stem = f"serving_{args.device.type}_{Path(args.model).name}"
        if args.device.type == "cpu" and args.cpu_weight_dtype != "float32":
            stem += f"_{args.cpu_weight_dtype}"
    if args.peers:  # first: the same run's reference points, even if a later part runs out of time
        results["peers"] = peers(config, args)
        (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    with tempfile.TemporaryDirectory() as tmp:
        for gpr in args.gpr:
            results["runs"].append(run_gpr(gpr, config, args, Path(tmp)))
            (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / f"{stem}.png")
    print(f"wrote {args.out / stem}.json and .png")


if __name__ == "__main__":
    main()
