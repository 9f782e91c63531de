"""Perplexity through the serving path against the offline LUT model of the same sketch, on the same tokens.

    python benchmarks/serving_ppl.py [--model default|DIR] [--device cpu|cuda] [--eval-tokens 4096] [--window 512]
                                     [--cpu-weight-dtypes float32,bfloat16,int8] [--out DIR]
    python benchmarks/serving_ppl.py --tiny        # a random tiny model and random tokens (the test's form)

The tokens are sketch_quality.py's (worked solutions of math_train.json, last rows first). Each window goes to the
engine as one request scoring its prompt (prompt_logprobs=0, max_tokens=0): the served model (server/model.py,
the multi-LUT op, the CPU weight cache or the Triton kernels, the paged KV cache, chunked prefill) then gives
every token but the window's first its log-probability, and the perplexity is exp(mean NLL), as
sketch/perplexity.py computes it on the transformers LUT model (sketch/lut_model.py). Equal up to float rounding
means the server serves the model that was sketched; the gap per weight dtype is what that dtype costs.
Writes serving_ppl_<device>.json and .png.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from adapters.store import LutStore  # noqa: E402
from server.config import CacheConfig, EngineConfig, SchedulerConfig  # noqa: E402
from server.engine import Engine  # noqa: E402
from server.sampling import SamplingParams  # noqa: E402
from sketch.format import SketchedBase  # noqa: E402
from sketch.lut_model import load_sketched_model  # noqa: E402
from sketch.perplexity import held_out_solutions, perplexity  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="'default' (the embedded model's sketch) or a sketched dir")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cpu-weight-dtypes", default="float32,bfloat16,int8", help="served forms to score (CPU only)")
    p.add_argument("--dtype", default="auto", choices=("auto", "float16", "bfloat16", "float32"),
                   help="the engine's activation / KV / LUT dtype (auto: float16 on CUDA, float32 on the CPU)")
    p.add_argument("--eval-tokens", type=int, default=4096)
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--token-budget", type=int, default=0,
                   help="engine tokens per step (default max(512, window)); below the window each window is "
                        "prefilled in chunks, the later ones attending to the cached rows")  # fmt: skip
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tasks" / "math_train.json"))
    p.add_argument("--tiny", action="store_true", help="random tiny model, random tokens")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    return p.parse_args(argv)


def served_perplexity(engine: Engine, ids: torch.Tensor, window: int) -> dict:
    """exp(mean NLL) of every window's tokens but its first, scored by the engine (one request per window)."""
    t0 = time.perf_counter()
    nll, count = 0.0, 0
    for w in [w for w in ids.split(window) if w.numel() >= 2]:
        [out] = list(engine.generate("base", w.tolist(), SamplingParams(max_tokens=0, prompt_logprobs=0)))
        scored = out.prompt_logprobs[1:]
        nll -= sum(lp.logprob for lp in scored)
        count += len(scored)
    return {"ppl": math.exp(nll / count), "nll": nll / count, "tokens": count, "seconds": time.perf_counter() - t0}


def make_engine(base: SketchedBase, tokenizer, device: str, cpu_weight_dtype: str, window: int, store: Path,
                token_budget: int = 0, dtype: str = "auto") -> Engine:  # fmt: skip
    budget = token_budget or max(512, window)
    config = EngineConfig(
        device=device,
        dtype=dtype,
        cpu_weight_dtype=cpu_weight_dtype,
        cpu_weight_cache_bytes=1 << 30,
        tune_at_start=False,
        cache=CacheConfig(prefix_caching=False),  # scoring requests compute every token anyway
        # one scoring request at a time, so a token budget below the default max_num_seqs may cap it
        scheduler=SchedulerConfig(max_num_batched_tokens=budget,
                                  max_num_seqs=min(budget, SchedulerConfig.max_num_seqs)),  # fmt: skip
    )
    return Engine(base, tokenizer, config, LutStore(store, base.spec()))


def load(args) -> tuple[SketchedBase, object, torch.Tensor, str]:
    """(base, tokenizer or None, token ids, what they are)."""
    from sketch.format import load_sketched_base

    if args.tiny:
        from sketch.synthetic import llama_config, random_sketched_base

        base = random_sketched_base(llama_config(vocab_size=256, max_position_embeddings=1024), bits=4, gpr=2, seed=0)
        ids = torch.randint(0, 256, (args.eval_tokens,), generator=torch.Generator().manual_seed(0))
        return base, None, ids, "random tokens"
    from transformers import AutoTokenizer

    from sketch.pipeline import ensure_default_sketch

    path = ensure_default_sketch() if args.model == "default" else Path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    ids = held_out_solutions(tokenizer, args.data, args.eval_tokens)
    return load_sketched_base(path), tokenizer, ids, f"{Path(args.data).name} outputs, last rows first"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["offline LUT model (fp32)"] + [f"served, {s['form']}" for s in result["served"]]
    values = [result["offline"]["ppl"]] + [s["ppl"] for s in result["served"]]
    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    bars = ax.barh(names, values, color=["#888"] + ["#3a7"] * len(result["served"]))
    gaps = [""] + [f" ({s['relative_gap']:+.1e})" for s in result["served"]]
    ax.bar_label(bars, labels=[f"{v:.4f}{g}" for v, g in zip(values, gaps, strict=True)])
    ax.set_xlabel(f"perplexity ({result['tokens']['count']} tokens, {result['tokens']['window']}-token windows)")
    ax.set_xlim(0, max(values) * 1.45)
    ax.set_title(f"{result['model'].split(' (')[0]}: served vs offline perplexity, {result['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    base, tokenizer, ids, what = load(args)
    offline_model, _ = load_sketched_model(base, dtype=torch.float32)
    offline = perplexity(offline_model, ids, seq_len=args.window, progress=False).as_dict()
    del offline_model
    forms = args.cpu_weight_dtypes.split(",") if args.device == "cpu" else ["auto"]
    served = []
    with tempfile.TemporaryDirectory() as d:
        for form in forms:
            engine = make_engine(base, tokenizer, args.device, form, args.window, Path(d) / form, args.token_budget,
                                 args.dtype)  # fmt: skip
            result = served_perplexity(engine, ids, args.window)
            engine.stop()
            budget = engine.config.scheduler.max_num_batched_tokens
            label = form + ("" if args.dtype == "auto" else f" weights, {args.dtype} activations")
            result |= {"form": label if args.device == "cpu" else str(engine.config.torch_dtype()),
                       "relative_gap": result["ppl"] / offline["ppl"] - 1}  # fmt: skip
            served.append(result)
            print(f"{args.device} {result['form']}: served ppl {result['ppl']:.4f} vs offline {offline['ppl']:.4f} "
                  f"({result['relative_gap']:+.2e}), {result['seconds']:.1f} s", flush=True)
    cuda = args.device.startswith("cuda")
    out = {
        "model": "tiny random" if args.tiny else (base.source_model or args.model),
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "tokens": {"count": int(ids.numel()), "window": args.window, "what": what, "token_budget": budget},
        "offline": offline,
        "served": served,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"serving_ppl_{'tiny' if args.tiny else args.device.split(':')[0]}"
    (args.out / f"{stem}.json").write_text(json.dumps(out, indent=1) + "\n")
    plot(out, args.out / f"{stem}.png")
    print(f"wrote {args.out / stem}.json and .png")
    return out


if __name__ == "__main__":
    main()
