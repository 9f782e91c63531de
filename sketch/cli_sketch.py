"""`sketchserve sketch` and `sketchserve eval-ppl` (dispatched by server/cli.py).

    sketchserve sketch   --model PATH|default --bits 4 --gpr 4 [--calib FILE] --out DIR
    sketchserve eval-ppl --model PATH|default|SKETCH_DIR --data FILE [--json]

This module's import is cheap: torch and transformers are imported inside run().
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "sketch":
        _add_sketch_arguments(parser)
    elif name == "eval-ppl":
        _add_eval_arguments(parser)
    else:
        raise ValueError(f"sketch.cli_sketch has no command {name!r}")


def run(name: str, args: argparse.Namespace) -> int:
    return _run_sketch(args) if name == "sketch" else _run_eval(args)


def _add_sketch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="'default' (embedded SmolLM2-135M-Instruct), HF directory or .gguf")
    p.add_argument("--out", required=True, help="directory to write the sketched base into (must not exist)")
    p.add_argument("--bits", type=int, default=4, choices=(2, 3, 4), help="bits per code (default 4)")
    p.add_argument("--gpr", type=int, default=4, choices=(1, 2, 4, 8), help="row-groups per row (default 4)")
    p.add_argument("--calib", help="calibration file: text, JSONL with 'text', or instruction JSON "
                   "(default: data-free, sequences sampled by the model from BOS)")
    p.add_argument("--n-samples", type=int, default=64, help="calibration sequences (default 64)")
    p.add_argument("--seq-len", type=int, default=256, help="tokens per calibration sequence (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--emphasis", type=float, default=None, help="importance exponent of the k-means weights")
    p.add_argument("--damp", type=float, default=None, help="Hessian dampening, fraction of mean diagonal")
    p.add_argument("--refine-iters", type=int, default=None, help="CG steps of the least-squares LUT refit")
    p.add_argument("--method", default="sketchtune", choices=("sketchtune", "naive"),
                   help="'naive': plain k-means of the weights, no Hessian, no compensation (baseline)")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="'default', HF directory, .gguf, or sketched base directory")
    p.add_argument("--data", required=True, help="text, JSONL with 'text', or instruction JSON (documents joined)")
    p.add_argument("--seq-len", type=int, default=512, help="tokens per evaluation window (default 512)")
    p.add_argument("--max-tokens", type=int, default=None, help="evaluate only the first N tokens")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--json", action="store_true", help='print one line {"ppl": ..., "tokens": ...}')


def _run_sketch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sketch.calibration import CalibrationConfig
    from sketch.format import SKETCH_FILE, load_sketched_base
    from sketch.pipeline import build_sketch
    from sketch.sketcher import SketchOptions

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        print(f"sketchserve sketch: {out} exists and is not empty", file=sys.stderr)
        return 2
    tuned = {k: getattr(args, k) for k in ("emphasis", "damp", "refine_iters") if getattr(args, k) is not None}
    options = SketchOptions(bits=args.bits, gpr=args.gpr, method=args.method, **tuned)
    calibration = CalibrationConfig(args.calib, args.n_samples, args.seq_len, args.seed)
    build_sketch(args.model, out, options, calibration, device=args.device, progress=not args.quiet)
    base = load_sketched_base(out)
    size = (out / SKETCH_FILE).stat().st_size
    seconds = base.sketch_config.get("total_seconds")
    print(f"wrote {out}: {base.bits}-bit gpr={base.gpr}, {len(base.codes)} projections, "
          f"{size / 2**20:.1f} MiB, fingerprint {base.fingerprint[:16]}, {seconds} s")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    import torch

    from sketch.perplexity import eval_tokens, load_eval_model, perplexity

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer, name = load_eval_model(args.model, device=device)
    ids = eval_tokens(tokenizer, args.data, args.max_tokens)
    result = perplexity(model, ids, seq_len=args.seq_len, batch_size=args.batch_size, progress=not args.json)
    if args.json:
        print(json.dumps({"ppl": result.ppl, "tokens": result.tokens}))
    else:
        print(f"{name}: perplexity {result.ppl:.4f} over {result.tokens} tokens ({result.seconds:.1f} s)")
    return 0
