"""How much does sketching cost in perplexity, time and disk, on the real default model? (CPU is enough)

Model: the embedded SmolLM2-135M-Instruct (GGUF Q4_1, dequantized to float32 = "unsketched").
Held-out text: the `output` fields (worked solutions) of ../shared/data/tasks/math_train.json, read from
the last row backwards, joined with EOS, first --eval-tokens tokens; windows of 512 tokens. Calibration
is data-free (sequences the model samples from BOS, as the default sketch does), so no held-out row
is ever seen by the sketcher; --calib FILE calibrates on a file instead.

Settings: 4-bit gpr 1/4/8, 3-bit gpr 4, 2-bit gpr 4, each sketched (SketchTune: Hessian-weighted k-means
+ GPTQ-style compensation) and naive (plain k-means per row-group, no Hessian, no compensation).
Per setting: perplexity, sketch time, sketch.safetensors size. Also the sizes of the unsketched model as
fp16 safetensors and as the GGUF file. Bars: 4-bit gpr=4 within +10% of the unsketched perplexity, and
sketched strictly better than naive at every setting.

    nice -n 10 .venv/bin/python benchmarks/sketch_quality.py            # ~1 h on a busy 2-core CPU
    .venv/bin/python benchmarks/sketch_quality.py --settings 4:4 --eval-tokens 1024   # a quick look

Results: benchmarks/results/sketch_quality.json (rewritten after every setting) and sketch_quality.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from sketch.calibration import CalibrationConfig, calibration_tokens  # noqa: E402
from sketch.format import SKETCH_FILE, save_sketched_base  # noqa: E402
from sketch.lut_model import load_sketched_model  # noqa: E402
from sketch.models import default_gguf_path, load_hf_model, resolve_model_dir  # noqa: E402
from sketch.perplexity import held_out_solutions, perplexity  # noqa: E402
from sketch.pipeline import DEFAULT_CALIBRATION  # noqa: E402
from sketch.sketcher import SketchOptions, sketch_model  # noqa: E402

RESULT_NAME = "sketch_quality"
DEFAULT_SETTINGS = "4:1,4:4,4:8,3:4,2:4"
MIB = 2**20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="'default' (the embedded GGUF), a .gguf file or an HF dir")
    p.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated BITS:GPR")
    p.add_argument("--methods", default="sketchtune,naive")
    p.add_argument("--calib", default=None, help="calibration file (default: data-free)")
    p.add_argument("--n-samples", type=int, default=DEFAULT_CALIBRATION.n_samples)
    p.add_argument("--seq-len", type=int, default=DEFAULT_CALIBRATION.seq_len)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-tokens", type=int, default=4096)
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "tasks" / "math_train.json"))
    p.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    return p.parse_args(argv)


def fp16_safetensors_bytes(model) -> int:
    """Size of the unsketched model saved as fp16 safetensors (tied lm_head stored once)."""
    from safetensors.torch import save_file

    state = {k: v.half().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    with tempfile.TemporaryDirectory() as d:
        save_file(state, f"{d}/model.safetensors")
        return Path(f"{d}/model.safetensors").stat().st_size


def run_setting(model_dir: Path, calib_ids, calibration: CalibrationConfig, options: SketchOptions, eval_ids) -> dict:
    model, _ = load_hf_model(model_dir)
    t0 = time.perf_counter()
    base = sketch_model(model, calib_ids if options.method != "naive" else None, options, source_model="default",
                        calibration_info=calibration.describe() if options.method != "naive" else None)
    sketch_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        save_sketched_base(base, d)
        size = (Path(d) / SKETCH_FILE).stat().st_size
        lut_model, _ = load_sketched_model(d)  # what the runtime loads: codes + fp16 LUT + fp16 dense
    result = perplexity(lut_model, eval_ids, seq_len=512)
    return {
        "bits": options.bits,
        "gpr": options.gpr,
        "method": options.method,
        "ppl": result.ppl,
        "tokens": result.tokens,
        "sketch_seconds": round(sketch_s, 1),
        "sketch_mib": round(size / MIB, 2),
        "codes_mib": round(base.codes_bytes() / MIB, 2),
        "lut_mib": round(base.lut_bytes() / MIB, 2),
        "mean_relative_output_error": base.sketch_config.get("mean_relative_output_error"),
        "options": asdict(options),
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["settings"]
    labels = sorted({(r["bits"], r["gpr"]) for r in rows}, key=lambda s: (-s[0], s[1]))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.38
    for j, (method, color) in enumerate((("sketchtune", "tab:blue"), ("naive", "tab:gray"))):
        ppl = {(r["bits"], r["gpr"]): r["ppl"] for r in rows if r["method"] == method}
        xs = [i + (j - 0.5) * width for i in range(len(labels))]
        ys = [ppl.get(s, float("nan")) for s in labels]
        bars = ax.bar(xs, ys, width, label=method, color=color)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    base = results["unsketched"]["ppl"]
    ax.axhline(base, color="k", ls="--", lw=1, label=f"unsketched {base:.2f}")
    ax.axhline(1.1 * base, color="tab:red", ls=":", lw=1, label="+10% bar")
    ax.set_xticks(range(len(labels)), [f"{b}-bit gpr={g}" for b, g in labels])
    ax.set_yscale("log")
    ax.set_ylabel("perplexity (held-out math solutions, log scale)")
    ax.set_title("SmolLM2-135M-Instruct: SketchTune sketch vs naive k-means")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def check_bars(results: dict) -> dict:
    rows = results["settings"]
    base = results["unsketched"]["ppl"]
    by = {(r["bits"], r["gpr"], r["method"]): r["ppl"] for r in rows}
    bars = {}
    if (4, 4, "sketchtune") in by:
        bars["4bit_gpr4_within_10pct"] = by[(4, 4, "sketchtune")] <= 1.1 * base
    for bits, gpr, method in by:
        if method == "sketchtune" and (bits, gpr, "naive") in by:
            bars[f"{bits}bit_gpr{gpr}_better_than_naive"] = by[(bits, gpr, "sketchtune")] < by[(bits, gpr, "naive")]
    return bars


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model_dir, source = resolve_model_dir(args.model)
    model, tokenizer = load_hf_model(model_dir)
    eval_ids = held_out_solutions(tokenizer, args.data, args.eval_tokens)
    calibration = CalibrationConfig(args.calib, args.n_samples, args.seq_len, args.seed)
    gguf = default_gguf_path() if args.model == "default" else Path(args.model)
    results = {
        "model": source,
        "machine": {"cpus": torch.get_num_threads(), "cuda": torch.cuda.is_available()},
        "eval": {"data": Path(args.data).name, "fields": "output, last rows first", "tokens": len(eval_ids),
                 "window": 512},
        "calibration": calibration.describe(),
        "sizes_mib": {
            "gguf_q4_1": round(gguf.stat().st_size / MIB, 2) if gguf.suffix == ".gguf" else None,
            "fp16_safetensors": round(fp16_safetensors_bytes(model) / MIB, 2),
        },
        "unsketched": asdict(perplexity(model, eval_ids, seq_len=512)),
        "settings": [],
    }
    t = time.perf_counter()
    calib_ids = calibration_tokens(model, tokenizer, calibration)
    results["calibration_seconds"] = round(time.perf_counter() - t, 1)
    del model
    print(f"unsketched ppl {results['unsketched']['ppl']:.4f}; calibration {results['calibration_seconds']} s",
          flush=True)
    for setting in args.settings.split(","):
        bits, gpr = (int(v) for v in setting.split(":"))
        for method in args.methods.split(","):
            row = run_setting(model_dir, calib_ids, calibration, SketchOptions(bits=bits, gpr=gpr, method=method),
                              eval_ids)
            results["settings"].append(row)
            print(f"{bits}-bit gpr={gpr} {method:<10} ppl {row['ppl']:.4f}  sketch {row['sketch_seconds']} s  "
                  f"{row['sketch_mib']} MiB", flush=True)
            results["bars"] = check_bars(results)
            results["total_seconds"] = round(time.perf_counter() - t0, 1)
            (out_dir / f"{RESULT_NAME}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out_dir / f"{RESULT_NAME}.png")
    print(json.dumps(results["bars"], indent=2))
    return 0 if all(results["bars"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
