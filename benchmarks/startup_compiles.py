"""Which Triton kernels still compile once the engine has started: its start-up tuning is meant to compile every
variant that a decode or prefill step meets, so that no request waits for a compile. The random 7B-shaped sketch
(bench_serving's), then decodes of several batch sizes over --tasks tasks (every decode graph size class, each
step's kernel chosen by its task count) and a burst of prompts of different lengths. Prints each compile with its
phase, and the count after the start per kernel.

    python3 benchmarks/startup_compiles.py [--gpr 1] [--tasks 16] [--layers 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
import triton.runtime.jit as jit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serving as bs  # noqa: E402

from adapters.store import LutStore  # noqa: E402
from kernels.compile_ahead import compiling_only  # noqa: E402
from server.sampling import SamplingParams  # noqa: E402

PHASE = ["start"]
COMPILES: list[tuple[str, str, float]] = []  # (phase, kernel, seconds)
_do_compile = jit.JITFunction._do_compile


AHEAD: Counter = Counter()  # (kernel, compiled inside a compile_ahead block) -> compiles
SEEN: dict[str, list[dict]] = {}  # kernel -> what each of its compiles specialized on


def _variant(self, signature, constexprs, options, attrs) -> dict:
    """A compile's distinguishing inputs by name: argument types, constexprs, alignment / value attrs, options."""
    names = [p.name for p in getattr(self, "params", [])]

    def named(mapping) -> dict:
        out = {}
        for key, value in dict(mapping or {}).items():
            idx = key[0] if isinstance(key, tuple) and key else key
            out[names[idx] if isinstance(idx, int) and idx < len(names) else str(key)] = str(value)
        return out

    opts = {k: getattr(options, k, None) for k in ("num_warps", "num_stages", "maxnreg")} if options else {}
    return {"sig": named(signature), "const": named(constexprs), "attrs": named(attrs), "options": opts}


def _logged(self, key, signature, device, constexprs, options, attrs, warmup):
    t0 = time.perf_counter()
    out = _do_compile(self, key, signature, device, constexprs, options, attrs, warmup)
    name = self.fn.__name__
    COMPILES.append((PHASE[0], name, time.perf_counter() - t0))
    AHEAD[(name, compiling_only())] += 1  # compiled ahead (kernels/compile_ahead.py: submitted to its pool) or not
    try:
        variant = _variant(self, signature, constexprs, options, attrs)
    except Exception as exc:  # a Triton release with other argument shapes: report, keep compiling
        variant = {"error": repr(exc)}
    seen = SEEN.setdefault(name, [])
    if PHASE[0] != "start":  # what differs from the nearest variant compiled before (the start's, mostly)
        diff, nearest = {}, None
        if seen:
            nearest = min(seen, key=lambda v: sum(len(c) for c in _differs(v, variant).values()))
            diff = _differs(nearest, variant)
        print(f"  compile in {PHASE[0]}: {name} ({COMPILES[-1][2]:.2f} s) differs from the nearest earlier variant "
              f"in {diff or 'nothing seen (first of its kernel)'}", flush=True)  # fmt: skip
        for v in seen:  # every earlier variant with the same constexprs (the same config): how it differs
            if v.get("const") == variant.get("const") and v is not nearest:
                print(f"    same config, earlier: differs in {_differs(v, variant)}", flush=True)
        for section, changes in diff.items():  # the values the earlier variants had for each differing field
            for field in (c.split(":")[0] for c in changes):
                values = Counter(v.get(section, {}).get(field) for v in seen)
                print(f"    earlier {len(seen)} variants' {section} {field}: {dict(values)}", flush=True)
    seen.append(variant)
    return out


def _differs(a: dict, b: dict) -> dict:
    """Per section, the 'name: before -> now' entries where two variants differ."""
    out = {}
    for section in ("sig", "const", "attrs", "options"):
        sa, sb = a.get(section, {}), b.get(section, {})
        changed = [f"{k}: {sa.get(k)} -> {sb.get(k)}" for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
        if changed:
            out[section] = changed
    return out


BUCKET_LAUNCHES: dict[str, set] = {}  # phase class ("start" / "after") -> {(M, N, K, config)} at M not a multiple of 16


def _log_bucket_launches() -> None:
    """Record every bucket-kernel launch whose M is not a multiple of 16 (the variants that compile apart), to
    name the shape or config that a run meets but the start-up tuning did not."""
    from kernels import triton_ops

    launch = triton_ops.launch_bucket

    def logged(x, codes_packed, lut_pool, slots, bits, y, config):
        m = x.shape[0]
        if m % 16:
            phase = "start" if PHASE[0] == "start" else "after"
            key = (m, codes_packed.shape[0], x.shape[1], tuple(sorted(config.items())))
            BUCKET_LAUNCHES.setdefault(phase, set()).add(key)
        return launch(x, codes_packed, lut_pool, slots, bits, y, config)

    triton_ops.launch_bucket = logged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpr", type=int, default=1)
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--layers", type=int, default=32)
    cli = ap.parse_args()
    jit.JITFunction._do_compile = _logged
    _log_bucket_launches()
    args = argparse.Namespace(device=torch.device("cuda"), prompt=128, new_tokens=8, ttft_prompt=512,
                              cuda_graph_max_batch=64, cpu_weight_dtype="float32")  # fmt: skip
    base = bs.random_base(bs.llama2_7b_config(num_hidden_layers=cli.layers), cli.gpr, args.device)
    with tempfile.TemporaryDirectory() as tmp:
        store = LutStore(Path(tmp) / "store", base.spec(), verify_on_open=False)
        tasks = [f"task{i}" for i in range(cli.tasks)]
        bs.fill_store(base, store, tasks, Path(tmp))
        t0 = time.perf_counter()
        engine = bs.make_engine(base, store, args, num_slots=cli.tasks + 2, max_batch=64)
        print(f"engine started in {time.perf_counter() - t0:.1f} s, {len(COMPILES)} compiles", flush=True)
        vocab = base.config["vocab_size"]
        for phase, run in [
            ("first requests", lambda: bs.warm_up(engine, tasks)),
            *[(f"decode batch {b}", lambda b=b: decode(engine, tasks, b, vocab)) for b in (4, 12, 16, 24, 48, 64)],
            ("prompt burst", lambda: burst(engine, tasks, vocab)),
        ]:
            PHASE[0] = phase
            t0 = time.perf_counter()
            run()
            print(f"{phase}: {time.perf_counter() - t0:.2f} s", flush=True)
    for m, n, k, config in sorted(BUCKET_LAUNCHES.get("after", set()) - BUCKET_LAUNCHES.get("start", set())):
        print(f"bucket launch after the start, not at it: M={m} {n}x{k} {dict(config)}")
    print(f"bucket launches at M not a multiple of 16 at the start: {sorted(BUCKET_LAUNCHES.get('start', set()))}")
    for name in sorted({n for n, _ in AHEAD}):
        print(f"{name}: compiled ahead {AHEAD[(name, True)]}, in the calls {AHEAD[(name, False)]}")
    after = Counter(kernel for phase, kernel, _ in COMPILES if phase != "start")
    print(f"compiles at the start: {sum(p == 'start' for p, _, _ in COMPILES)}; after it: {sum(after.values())} "
          f"({dict(after)})")


def decode(engine, tasks: list[str], batch: int, vocab: int) -> None:
    params = SamplingParams(max_tokens=8, ignore_eos=True)
    for i, p in enumerate(bs.prompts(batch, 128, vocab, seed=batch)):
        engine.add_request(tasks[i % len(tasks)], p, params)
    engine.run_until_idle()


def burst(engine, tasks: list[str], vocab: int) -> None:
    params = SamplingParams(max_tokens=4, ignore_eos=True)
    for i, n in enumerate((508, 501, 37, 300, 22, 129, 64, 450)):
        engine.add_request(tasks[i % len(tasks)], bs.prompts(1, n, vocab, seed=100 + i)[0], params)
    engine.run_until_idle()


if __name__ == "__main__":
    main()
