"""`sketchserve finetune` and `sketchserve eval`: train a task LUT, measure a base (+ task LUT) on a task.

    sketchserve finetune --base DIR|default|HF_DIR|FILE.gguf --data TRAIN.json --task NAME --out FILE.safetensors
    sketchserve eval --base DIR|default|HF_DIR|FILE.gguf [--lut FILE] --data TEST.json [--limit N] [--json]

Importing this module is cheap (argparse only): torch and transformers are imported inside run().
"""

from __future__ import annotations

import argparse
import json
import sys

DTYPES = ("auto", "float32", "bfloat16", "float16")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="sketched base directory (with tokenizer files), or 'default', a "
                        "Hugging Face directory or a .gguf file: their cached 4-bit gpr-4 sketch, as `serve` uses")
    parser.add_argument("--data", required=True, help="a JSON list or JSON lines of instruction rows {instruction, "
                        "input, output, answer} or of conversations {messages: [{role, content}, ...]} (OpenAI's chat "
                        "fine-tuning format: the last, assistant message is the response)")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--max-length", type=int, default=512, help="tokens per example, prompt + response")
    if name == "finetune":
        _add_finetune_arguments(parser)
    elif name == "eval":
        _add_eval_arguments(parser)
    else:
        raise ValueError(f"sketch.cli_finetune has no command {name!r}")


def _add_finetune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task name written into the LUT file")
    parser.add_argument("--out", required=True, help="output task LUT file (.safetensors)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=1, help="passes over the training split (default 1)")
    length.add_argument("--max-steps", type=int, default=None, help="optimizer steps in all (instead of epochs)")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak AdamW learning rate (default 1e-4)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=0, help="linear warm-up steps")
    parser.add_argument("--schedule", choices=("cosine", "linear", "constant"), default="cosine")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-split", type=float, default=0.05, help="fraction held out for the eval loss")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--grad-checkpointing", action="store_true", help="recompute activations in backward")
    parser.add_argument("--cpu-fp32", action="store_true", help="on the CPU, train in float32 throughout (default: "
                        "the LUT projections' matmuls take bf16 inputs where the CPU has AMX or AVX512-BF16 units)")
    parser.add_argument(
        "--lut-dtype",
        choices=("base", "float32", "bfloat16", "float16"),
        default="base",
        help="dtype of the saved LUTs (default: the base's LUT dtype)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lut", default=None, help="task LUT file; without it the base LUT is measured")
    parser.add_argument("--limit", type=int, default=None, help="first N examples of the data only (a conversation "
                        "row gives one per assistant message trained on)")
    parser.add_argument("--json", action="store_true", help='print one line {"loss", "accuracy", "n", "kind"}')
    parser.add_argument(
        "--kind",
        choices=("boolq", "arc", "math", "tool"),
        default=None,
        help="answer extraction (default: told from the answers; tool: the function calls, for rows whose response "
        "is tool calls)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 16 (boolq, arc), 256 (math), "
                        "128 (tool)")
    parser.add_argument("--dtype", choices=DTYPES, default="auto", help="auto: bfloat16 on CUDA, float32 on CPU")


def run(name: str, args: argparse.Namespace) -> int:
    from sketch.format import SketchFormatError
    from sketch.pipeline import sketched_base_dir
    from sketch.task_lut import TaskLutError

    try:
        args.base = str(sketched_base_dir(args.base))  # a model spec: its cached sketch (made once)
        if name == "finetune":
            return _run_finetune(args)
        return _run_eval(args)
    except (TaskLutError, SketchFormatError, FileNotFoundError, ValueError) as e:  # ModelSourceError: a ValueError
        print(f"sketchserve {name}: error: {e}", file=sys.stderr)
        return 2


def _device(arg: str):
    import torch

    from sketch.finetune import default_device

    return default_device() if arg == "auto" else torch.device(arg)


def _run_finetune(args: argparse.Namespace) -> int:
    import torch

    from sketch.finetune import FinetuneConfig, finetune
    from sketch.task_lut import save_task_lut

    config = FinetuneConfig(
        epochs=args.epochs,
        max_steps=args.max_steps,
        lr=args.lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        warmup_steps=args.warmup,
        schedule=args.schedule,
        seed=args.seed,
        eval_split=args.eval_split,
        weight_decay=args.weight_decay,
        grad_checkpointing=args.grad_checkpointing,
        cpu_bf16=False if args.cpu_fp32 else None,
        progress=not args.quiet,
    )
    lut_dtype = None if args.lut_dtype == "base" else getattr(torch, args.lut_dtype)
    task_lut = finetune(args.base, args.data, args.task, config, _device(args.device), lut_dtype)
    out = save_task_lut(task_lut, args.out)
    t = task_lut.training
    eval_loss = "n/a" if t["eval_loss"] is None else f"{t['eval_loss']:.4f} (before {t['eval_loss_before']:.4f})"
    print(
        f"wrote {out} ({task_lut.nbytes() / 2**20:.2f} MiB, {t['trainable_params']:,} LUT values): "
        f"{t['steps']} steps in {t['time_s']:.1f} s, final train loss {t['final_loss']:.4f}, eval loss {eval_loss}"
    )
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    import torch
    from transformers import AutoTokenizer

    from sketch.evaluate import evaluate
    from sketch.finetune import apply_task_lut, default_dtype
    from sketch.format import load_sketched_base
    from sketch.lut_model import load_sketched_model
    from sketch.prompts import load_examples
    from sketch.task_lut import load_task_lut

    device = _device(args.device)
    dtype = default_dtype(device) if args.dtype == "auto" else getattr(torch, args.dtype)
    base = load_sketched_base(args.base)
    task_lut = load_task_lut(args.lut, base.spec()) if args.lut else None  # fails fast, before the model loads
    model, _ = load_sketched_model(base, dtype=dtype, device=device, lut_dtype=torch.float32)
    if task_lut is not None:
        apply_task_lut(model, task_lut, base.spec())
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    examples = load_examples(args.data)[: args.limit]
    result = evaluate(
        model,
        tokenizer,
        examples,
        args.kind,
        args.max_length,
        args.batch_size,
        args.max_new_tokens,
        progress=not args.json,
    )
    if args.json:
        print(json.dumps({"loss": result.loss, "accuracy": result.accuracy, "n": result.n, "kind": result.kind}))
    else:
        loss = "n/a" if result.loss is None else f"{result.loss:.4f} over {result.loss_tokens} response tokens"
        accuracy = "n/a" if result.accuracy is None else f"{result.accuracy:.4f} ({result.kind})"
        print(f"n={result.n}  loss {loss}  accuracy {accuracy}  ({result.time_s:.1f} s)")
    return 0
