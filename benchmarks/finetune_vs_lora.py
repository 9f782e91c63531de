"""Does a LUT fine-tune of the 4-bit sketch match LoRA on the unsketched model? (BoolQ, greedy accuracy)

Methods, all on the same train/held-out split, the same batches in the same order, the same number of
optimizer steps, the same prompt template, loss (response tokens only) and evaluation (sketch/evaluate.py):

    zero_shot     the unsketched model as it is
    lora          LoRA r=16 (alpha 32, dropout 0.05) on q,k,v,o,gate,up,down of the unsketched model (peft)
    lut_gpr{G}    the 4-bit sketch with G row-groups: only the LUT values train (sketch/finetune.py)
    NAME@LR       any of the trained ones at another learning rate, e.g. lut_gpr4@3e-4

Per method: test accuracy (+ Wilson 95% interval), test loss, trainable parameters, peak GPU memory
(training and evaluation), train and eval time. The LUT fine-tune is evaluated with the exported task LUT
(rounded to the base's LUT dtype), i.e. what the server would load. Results: one JSON per method under
--results (so a later call adds methods), and the merged JSON + a plot under --out-dir.

GPU (see the README section "Fine-tuning vs LoRA" for the device commands):
    python benchmarks/finetune_vs_lora.py --model /root/m/model.gguf --hf-cache /root/m/hf \\
        --data-dir /root/tasks --sketch-root /root/sk --methods zero_shot,lora,lut_gpr4 \\
        --results /root/bench --out-dir "$OUT"
CPU, tiny random model, a minute: python benchmarks/finetune_vs_lora.py --smoke
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import json
import math
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from sketch.evaluate import detect_answer_kind, evaluate, task_loss  # noqa: E402
from sketch.finetune import (  # noqa: E402
    FinetuneConfig,
    apply_task_lut,
    finetune_luts,
    split_examples,
    total_steps,
    train,
)
from sketch.format import load_sketched_base  # noqa: E402
from sketch.lut_model import load_sketched_model  # noqa: E402
from sketch.models import file_sha256  # noqa: E402
from sketch.prompts import load_examples  # noqa: E402

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
RESULT_NAME = "finetune_vs_lora"
# methods merged from several calls must agree on these
SAME_SETUP = tuple(
    "task train_rows eval_rows test_rows steps batch_size max_length seed train_sha256 warmup schedule".split()
)
MIB = 2**20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="unsketched model: HF directory or .gguf file")
    p.add_argument("--hf-cache", help="where a .gguf model is converted to an HF directory once (reused)")
    p.add_argument("--sketch", action="append", default=[], metavar="G=DIR", help="a 4-bit sketch with gpr G")
    p.add_argument("--sketch-root", help="sketch missing gpr G into ROOT/gpr{G} with `sketchserve sketch`")
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "tasks"))
    p.add_argument("--task", default="boolq")
    p.add_argument("--methods", default="zero_shot,lora,lut_gpr4,lut_gpr1,lut_gpr8")
    p.add_argument("--test-rows", type=int, default=1000, help="first N rows of the test split")
    p.add_argument("--train-rows", type=int, default=None, help="first N rows of the train split (default all)")
    p.add_argument("--epochs", type=int, default=1, help="steps = epochs over the train split (minus held-out)")
    p.add_argument("--max-steps", type=int, default=None, help="instead of --epochs")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--eval-split", type=float, default=0.05, help="held out of the train split for eval loss")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr-lora", type=float, default=3e-4, help="the anchor's LoRA rate")
    p.add_argument("--lr-lut", type=float, default=1e-4)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=64)
    p.add_argument(
        "--lut-op",
        choices=("auto", "triton", "reference"),
        default="auto",
        help="LUT-linear on CUDA: auto = the Triton kernels if kernels/triton_ops.py exists, else the torch reference",
    )
    p.add_argument("--time-budget-s", type=float, default=None, help="start no method after this many seconds")
    p.add_argument("--results", default=None, help="per-method JSON files (default: <out-dir>/runs)")
    p.add_argument("--out-dir", default=None, help="merged JSON + plot (default benchmarks/results; smoke: a temp dir)")
    p.add_argument("--report-only", action="store_true", help="merge --results into the JSON + plot, run nothing")
    p.add_argument("--smoke", action="store_true", help="tiny random model on the CPU, a few steps")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------- inputs


def hf_model_dir(model: str, hf_cache: str | None, scratch: Path) -> Path:
    """An HF directory for `model`; a .gguf is dequantized once (transformers + gguf) and saved plainly."""
    path = Path(model)
    if path.suffix != ".gguf":
        return path
    out = Path(hf_cache) if hf_cache else scratch / "hf"
    if (out / "config.json").exists():
        return out
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    model_ = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    out.mkdir(parents=True, exist_ok=True)
    config = copy.deepcopy(model_.config)
    if hasattr(config, "quantization_config"):  # a GGUF-loaded model refuses save_pretrained; save it by hand
        del config.quantization_config
    config.save_pretrained(out)
    state = {k: v.contiguous() for k, v in model_.state_dict().items()}
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save_pretrained(out)
    print(f"converted {path.name} -> {out} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def sketch_dir(args: argparse.Namespace, gpr: int, model_dir: Path) -> Path:
    """The 4-bit sketch with `gpr` row-groups: given by --sketch, or made once by `sketchserve sketch`
    (sketch/cli_sketch.py) under --sketch-root, on this machine's GPU."""
    given = {int(g): Path(d) for g, d in (s.split("=", 1) for s in args.sketch)}
    if gpr in given:
        return given[gpr]
    if not args.sketch_root:
        raise SystemExit(f"no sketch for gpr={gpr}: pass --sketch {gpr}=DIR or --sketch-root ROOT")
    out = Path(args.sketch_root) / f"gpr{gpr}"
    if not (out / "sketch.safetensors").exists():
        cmd = [sys.executable, "-m", "server.cli", "sketch", "--model", str(model_dir), "--bits", "4"]
        cmd += ["--gpr", str(gpr), "--out", str(out)]
        print("+", " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True)
        (out / "sketch_time_s.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")
    return out


def select_lut_op(choice: str) -> str:
    """The LUT-linear implementation used on CUDA (the CPU always runs the torch reference)."""
    if not torch.cuda.is_available():
        return "reference (cpu)"
    import importlib.util

    import kernels.lut_linear as lut_linear

    have_triton = importlib.util.find_spec("kernels.triton_ops") is not None
    if choice == "triton" and not have_triton:
        raise SystemExit("--lut-op triton: kernels/triton_ops.py does not exist yet")
    if choice == "reference" or not have_triton:
        lut_linear._use_triton = lambda x: False  # benchmark-only switch: torch reference on the GPU
        return "reference (cuda)"
    return "triton"


# ---------------------------------------------------------------------------------------------- methods


def wilson_interval(correct: int, n: int, z: float = 1.96) -> list[float]:
    if n == 0:
        return [0.0, 1.0]
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(centre - half, 4), round(centre + half, 4)]


def measure(model, tokenizer, test_rows, args, kind: str) -> dict:
    device = next(model.parameters()).device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    r = evaluate(model, tokenizer, test_rows, kind, args.max_length, args.eval_batch_size, progress=True)
    labels = [e["answer"].strip().lower() for e in test_rows if e["answer"].strip()]
    return {
        "accuracy": r.accuracy,
        "accuracy_ci95": wilson_interval(sum(r.correct or []), len(labels)),
        "balanced_accuracy": balanced_accuracy(r.correct or [], labels),
        "correct": "".join("1" if c else "0" for c in r.correct or []),
        "test_loss": r.loss,
        "test_rows": r.n,
        "eval_time_s": round(r.time_s, 2),
        "eval_peak_memory_mib": _peak_mib(device),
    }


def balanced_accuracy(correct: list[bool], labels: list[str]) -> float | None:
    """Mean over answer classes of the accuracy within the class: 0.5 on BoolQ for a constant answer."""
    if not correct:
        return None
    classes = sorted(set(labels))
    recalls = [sum(c for c, y in zip(correct, labels, strict=True) if y == k) / labels.count(k) for k in classes]
    return round(sum(recalls) / len(recalls), 4)


def majority_rate(labels: list[str]) -> float:
    """Accuracy of always giving the most common answer (what a model that ignores the question scores)."""
    return round(max(labels.count(k) for k in set(labels)) / len(labels), 4) if labels else 0.0


def _peak_mib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / MIB, 1) if device.type == "cuda" else None


def _device_and_dtype() -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16  # frozen weights bf16; trainable params fp32; bf16 autocast
    return torch.device("cpu"), torch.float32


def load_dense(model_dir: Path):
    from transformers import AutoModelForCausalLM

    device, dtype = _device_and_dtype()
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()


def run_zero_shot(model_dir: Path, tokenizer, data: dict, args) -> dict:
    model = load_dense(model_dir)
    result = {"model": "unsketched", "trainable_params": 0, "train_time_s": 0.0, "peak_memory_mib": None}
    result.update(measure(model, tokenizer, data["test"], args, args.task_kind))
    return result


def run_lora(model_dir: Path, tokenizer, data: dict, config: FinetuneConfig, args) -> dict:
    from peft import LoraConfig, get_peft_model

    model = load_dense(model_dir)
    lora = LoraConfig(
        r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.05, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"
    )
    torch.manual_seed(args.seed)  # LoRA A is initialised at random
    model = get_peft_model(model, lora)  # adapters in fp32 (peft's autocast_adapter_dtype), base frozen
    params = [p for p in model.parameters() if p.requires_grad]
    stats = train(model, params, tokenizer, data["train"], config, desc=f"lora r={args.lora_r}")
    result = {
        "model": f"unsketched + LoRA r={args.lora_r} on {','.join(LORA_TARGETS)}",
        "lr": config.lr,
        "steps": stats.steps,
        "trainable_params": stats.trainable_params,
        "train_time_s": round(stats.time_s, 2),
        "step_time_median_s": round(stats.step_time_median_s, 5),
        "peak_memory_mib": None if stats.peak_memory_bytes is None else round(stats.peak_memory_bytes / MIB, 1),
        "final_loss": stats.final_loss,
        "loss_curve": stats.loss_curve,
    }
    result["eval_loss"] = task_loss(model, tokenizer, data["eval"], args.max_length, args.eval_batch_size)[0]
    result.update(measure(model, tokenizer, data["test"], args, args.task_kind))
    return result


def run_lut(sketch_dir: Path, tokenizer, data: dict, config: FinetuneConfig, args, zero_shot: bool) -> dict:
    device, dtype = _device_and_dtype()
    base = load_sketched_base(sketch_dir)
    model, _ = load_sketched_model(base, dtype=dtype, device=device, lut_dtype=torch.float32)
    result = {
        "model": f"{base.bits}-bit sketch, gpr={base.gpr}",
        "sketch": {
            "dir": str(sketch_dir),
            "bits": base.bits,
            "gpr": base.gpr,
            "fingerprint": base.fingerprint,
            "codes_mib": round(base.codes_bytes() / MIB, 2),
            "lut_mib": round(base.lut_bytes() / MIB, 2),
            "source_model": base.source_model,
        },
        "lr": config.lr,
    }
    sketch_time = sketch_dir / "sketch_time_s.txt"
    if sketch_time.exists():
        result["sketch"]["sketch_time_s"] = float(sketch_time.read_text())
    if zero_shot:  # how much the sketch alone loses, before any training
        result["sketch_zero_shot"] = {
            k: v for k, v in measure(model, tokenizer, data["test"], args, args.task_kind).items() if k != "correct"
        }
    task_lut = finetune_luts(
        model,
        base,
        tokenizer,
        data["train"],
        config,
        task=args.task,
        eval_examples=data["eval"],
        data_sha256=data["train_sha256"],
    )
    apply_task_lut(model, task_lut, base.spec())  # evaluate the exported (rounded) LUTs, as served
    t = task_lut.training
    result.update(
        {
            "steps": t["steps"],
            "trainable_params": t["trainable_params"],
            "task_lut_mib": round(task_lut.nbytes() / MIB, 2),
            "train_time_s": t["time_s"],
            "step_time_median_s": t["step_time_median_s"],
            "peak_memory_mib": None if t["peak_memory_bytes"] is None else round(t["peak_memory_bytes"] / MIB, 1),
            "final_loss": t["final_loss"],
            "eval_loss": t["eval_loss"],
            "loss_curve": t["loss_curve"],
        }
    )
    result.update(measure(model, tokenizer, data["test"], args, args.task_kind))
    return result


# ----------------------------------------------------------------------------------------------- report


def mcnemar_p(a: str, b: str) -> float | None:
    """Exact two-sided McNemar test on paired per-row correctness strings ('0'/'1')."""
    if not a or len(a) != len(b):
        return None
    only_a = sum(x == "1" and y == "0" for x, y in zip(a, b, strict=True))
    only_b = sum(x == "0" and y == "1" for x, y in zip(a, b, strict=True))
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def write_report(results_dir: Path, out_dir: Path) -> dict:
    runs = {}
    for f in results_dir.glob("*.json"):
        r = json.loads(f.read_text())
        runs[r["method"]] = r
    runs = dict(sorted(runs.items(), key=lambda kv: _method_order(kv[0])))
    if not runs:
        raise SystemExit(f"no results in {results_dir}")
    setup = next(iter(runs.values()))["setup"]
    for name, r in runs.items():  # methods from several calls are comparable only on the same data and steps
        differs = {k for k in SAME_SETUP if r["setup"].get(k) != setup.get(k)}
        if differs:
            raise SystemExit(f"{name} ran with another {sorted(differs)} than the others: rerun it or remove it")
    methods = {name: {k: v for k, v in r.items() if k not in ("setup", "method")} for name, r in runs.items()}
    # among learning-rate variants of one method, the one with the lowest held-out (train split) loss
    best: dict[str, str] = {}
    for name, r in methods.items():
        family = name.partition("@")[0]
        if r.get("eval_loss") is not None and (
            family not in best or r["eval_loss"] < methods[best[family]]["eval_loss"]
        ):
            best[family] = name
    comparison = {}
    if "lora" in best:
        lora = methods[best["lora"]]
        for family, name in best.items():
            if family.startswith("lut_gpr"):
                r = methods[name]
                comparison[f"{name} - {best['lora']}"] = {
                    "accuracy_diff": round(r["accuracy"] - lora["accuracy"], 4),
                    "test_loss_diff": round(r["test_loss"] - lora["test_loss"], 4),
                    "mcnemar_p": mcnemar_p(r.get("correct", ""), lora.get("correct", "")),
                }
    report = {
        "question": "LUT fine-tune of the 4-bit sketch vs LoRA r=16 on the unsketched model",
        "setup": setup,
        "methods": methods,
        "best_by_eval_loss": best,
        "comparison": comparison,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{RESULT_NAME}.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report, out_dir / f"{RESULT_NAME}.png")
    print_table(report)
    return report


def _method_order(method: str) -> tuple[int, int, str]:
    name = method.partition("@")[0]
    if name.startswith("lut_gpr"):
        return (2, int(name.removeprefix("lut_gpr")), method)
    return ({"zero_shot": 0, "lora": 1}.get(name, 3), 0, method)


def _num(value: float | None, spec: str) -> str:
    return format(float("nan") if value is None else value, spec)


def print_table(report: dict) -> None:
    print(
        f"\n{'method':<16} {'acc':>6} {'95% CI':>15} {'bal.acc':>7} {'test loss':>9} {'trainable':>11} "
        f"{'peak MiB':>9} {'train s':>8} {'ms/step':>8} {'eval s':>7}"
    )
    for name, r in report["methods"].items():
        lo, hi = r.get("accuracy_ci95") or [None, None]
        peak = r.get("peak_memory_mib") or r.get("eval_peak_memory_mib")
        ci = f"[{_num(lo, '.3f')},{_num(hi, '.3f')}]"
        print(
            f"{name:<16} {_num(r['accuracy'], '>6.3f')} {ci:>15} "
            f"{_num(r.get('balanced_accuracy'), '>7.3f')} {_num(r.get('test_loss'), '>9.4f')} "
            f"{r['trainable_params']:>11,} {_num(peak, '>9.0f')} "
            f"{r.get('train_time_s', 0):>8.1f} {1e3 * r.get('step_time_median_s', 0):>8.1f} "
            f"{r.get('eval_time_s', 0):>7.1f}"
        )
    print(f"always the most common answer: {report['setup']['majority_answer_rate']:.3f}")
    print(f"learning rate chosen by held-out loss: {report['best_by_eval_loss']}")
    for name, c in report["comparison"].items():
        print(
            f"{name}: accuracy {c['accuracy_diff']:+.4f} (McNemar p={c['mcnemar_p']}), "
            f"test loss {c['test_loss_diff']:+.4f}"
        )


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setup, methods = report["setup"], report["methods"]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = list(methods)
    acc = [methods[n]["accuracy"] or 0 for n in names]
    err = [
        [a - (methods[n].get("accuracy_ci95") or [a, a])[0] for a, n in zip(acc, names, strict=True)],
        [(methods[n].get("accuracy_ci95") or [a, a])[1] - a for a, n in zip(acc, names, strict=True)],
    ]
    colors = ["0.6" if n == "zero_shot" else "tab:orange" if n.startswith("lora") else "tab:blue" for n in names]
    ax_acc.bar(names, acc, yerr=err, color=colors, capsize=4)
    for i, n in enumerate(names):
        r = methods[n]
        mem = r.get("peak_memory_mib") or r.get("eval_peak_memory_mib")
        label = f"{acc[i]:.3f}\n{r['trainable_params'] / 1e6:.2f}M params"
        label += f"\n{mem:.0f} MiB" if mem else ""
        ax_acc.text(i, 0.02, label, ha="center", va="bottom", fontsize=8)
        before = (r.get("sketch_zero_shot") or {}).get("accuracy")
        if before is not None:  # the sketch before fine-tuning
            ax_acc.plot([i - 0.35, i + 0.35], [before, before], color="k", linestyle=":", linewidth=1.5)
    ax_acc.set_ylabel(f"{setup['task']} accuracy, first {setup['test_rows']} test rows (greedy)")
    ax_acc.set_ylim(0, 1)
    ax_acc.axhline(
        setup["majority_answer_rate"],
        color="tab:red",
        linewidth=0.8,
        linestyle="--",
        zorder=0,
        label=f"always the most common answer ({setup['majority_answer_rate']:.3f})",
    )
    ax_acc.legend(fontsize=8, loc="upper left")
    ax_acc.set_title(
        f"{setup['steps']} steps x batch {setup['batch_size']}, same data for every method"
        "\n(dotted: the sketch before fine-tuning)",
        fontsize=10,
    )
    ax_acc.tick_params(axis="x", rotation=20)
    for n in names:
        curve = methods[n].get("loss_curve")
        if curve:
            xs = [(i + 0.5) * setup["steps"] / len(curve) for i in range(len(curve))]
            ax_loss.plot(xs, curve, label=f"{n} (lr {methods[n]['lr']:g})")
    ax_loss.set_xlabel("optimizer step")
    ax_loss.set_ylabel("training loss (response tokens)")
    ax_loss.set_title(f"{setup['device']}; LUT op: {setup['lut_op']}")
    if ax_loss.get_lines():
        ax_loss.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------ smoke


def prepare_smoke(scratch: Path, args: argparse.Namespace) -> None:
    """A tiny random 'unsketched' model (the dequantized gpr=4 sketch) and tiny 4-bit sketches, on disk."""
    from transformers import AutoModelForCausalLM

    from sketch.format import save_sketched_base
    from sketch.lut_model import dense_state_dict, hf_config
    from tests.sketch.tiny_llm import CHAT_TEMPLATE, byte_tokenizer, tiny_base

    tokenizer = byte_tokenizer(CHAT_TEMPLATE)
    for gpr in (1, 4, 8):
        base = tiny_base(gpr=gpr, seed=gpr)
        save_sketched_base(base, scratch / f"gpr{gpr}")
        tokenizer.save_pretrained(str(scratch / f"gpr{gpr}"))
        args.sketch.append(f"{gpr}={scratch / f'gpr{gpr}'}")
        if gpr == 4:
            dense = AutoModelForCausalLM.from_config(hf_config(base))
            dense.load_state_dict(dense_state_dict(base), strict=True)
            dense.save_pretrained(scratch / "source")
            tokenizer.save_pretrained(str(scratch / "source"))
    args.model = str(scratch / "source")
    args.test_rows, args.train_rows = min(args.test_rows, 16), args.train_rows or 48
    args.max_steps, args.batch_size, args.max_length, args.warmup = args.max_steps or 4, 4, 256, 1
    args.lr_lut, args.eval_batch_size = 3e-3, 16
    args.out_dir = args.out_dir or str(scratch / "out")


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="finetune_vs_lora."))
    if args.smoke:
        prepare_smoke(scratch, args)
    out_dir = Path(args.out_dir or REPO / "benchmarks" / "results")
    results_dir = Path(args.results) if args.results else out_dir / "runs"
    if args.report_only:
        write_report(results_dir, out_dir)
        return 0
    if not args.model:
        raise SystemExit("--model is required (or --smoke)")
    from transformers import AutoTokenizer

    lut_op = select_lut_op(args.lut_op)
    model_dir = hf_model_dir(args.model, args.hf_cache, scratch)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)  # one tokenizer: identical prompt ids for every method
    train_file = Path(args.data_dir) / f"{args.task}_train.json"
    train_rows, eval_rows = split_examples(load_examples(train_file)[: args.train_rows], args.eval_split, args.seed)
    test_rows = load_examples(Path(args.data_dir) / f"{args.task}_test.json")[: args.test_rows]
    args.task_kind = detect_answer_kind(test_rows)
    data = {"train": train_rows, "eval": eval_rows, "test": test_rows, "train_sha256": file_sha256(train_file)}
    config = FinetuneConfig(
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        max_length=args.max_length,
        warmup_steps=args.warmup,
        schedule=args.schedule,
        seed=args.seed,
        eval_split=0.0,  # the split is made once above, the same for every method
        eval_batch_size=args.eval_batch_size,
    )
    config.max_steps = total_steps(len(train_rows), config)  # every method runs exactly these steps
    setup = run_setup(args, data, config, lut_op)
    print(json.dumps(setup), flush=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if args.time_budget_s and time.perf_counter() - start > args.time_budget_s:
            print(f"skipping {method}: past the time budget", flush=True)
            continue
        print(f"=== {method}", flush=True)
        try:
            result = run_method(method, args, model_dir, tokenizer, data, config)
        except Exception:  # one broken method (a missing package, no sketcher yet) must not lose the others
            traceback.print_exc()
            failed.append(method)
            continue
        finally:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        result.update({"method": method, "setup": setup})
        (results_dir / f"{method.replace('@', '_lr')}.json").write_text(json.dumps(result, indent=1) + "\n")
        print(f"{method}: accuracy {result['accuracy']:.4f}, test loss {result['test_loss']:.4f}", flush=True)
        write_report(results_dir, out_dir)  # after every method: a run killed later still leaves these
    print(f"total {time.perf_counter() - start:.0f} s; results in {out_dir}; failed: {failed or 'none'}", flush=True)
    return 1 if failed else 0


def run_method(method: str, args, model_dir: Path, tokenizer, data: dict, config: FinetuneConfig) -> dict:
    name, _, lr = method.partition("@")
    if name == "zero_shot":
        return run_zero_shot(model_dir, tokenizer, data, args)
    if name == "lora":
        return run_lora(model_dir, tokenizer, data, dataclasses.replace(config, lr=float(lr or args.lr_lora)), args)
    if name.startswith("lut_gpr"):
        sketch = sketch_dir(args, int(name.removeprefix("lut_gpr")), model_dir)
        lut_config = dataclasses.replace(config, lr=float(lr or args.lr_lut))
        return run_lut(sketch, tokenizer, data, lut_config, args, zero_shot=not lr)
    raise ValueError(f"unknown method {method!r}: zero_shot, lora, lut_gpr{{G}}, optionally @LR")


def run_setup(args, data: dict, config: FinetuneConfig, lut_op: str) -> dict:
    """What every method shares; methods merged from several calls must agree on SAME_SETUP."""
    cuda = torch.cuda.is_available()
    return {
        "task": args.task,
        "train_rows": len(data["train"]),
        "eval_rows": len(data["eval"]),
        "test_rows": len(data["test"]),
        "steps": config.max_steps,
        "batch_size": config.batch_size,
        "max_length": config.max_length,
        "warmup": config.warmup_steps,
        "schedule": config.schedule,
        "seed": config.seed,
        "train_sha256": data["train_sha256"],
        "majority_answer_rate": majority_rate([e["answer"].strip().lower() for e in data["test"] if e["answer"]]),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "lut_op": lut_op,
        "precision": "bf16 autocast, frozen weights bf16, trainable fp32" if cuda else "fp32",
        "model": str(args.model),
        "smoke": args.smoke,
    }


if __name__ == "__main__":
    sys.exit(main())
