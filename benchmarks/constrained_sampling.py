"""The host's cost of constrained decoding: microseconds a generated token spends in the sampler per constraint.

    python3 benchmarks/constrained_sampling.py [--tokenizer DIR] [--out DIR] [--rounds 5]

Constrained rows (JSON mode, a JSON Schema, a choice, a regex, a tool call) sample on the host, one token at a time:
the sampler ranks the row's logits, and the recognizer (server/json_mode.py) runs the 64 best-ranked tokens' texts
until it has the valid ones. This measures that cost without a model: for each case a target output is tokenized,
and each of its positions is one sample() call on a [1, vocab] row of random logits in which the target token
ranks first, so the recognizer sees the vocabulary's real tokens as the other 63 candidates (teacher forcing:
every call takes the same path as a generation that writes the target). Greedy rows stop at the first valid
candidate; sampled rows (temperature 0.8, top-p 0.95) check all 64. Per case: microseconds per token (median of
rounds, whole outputs), with the unconstrained rows' times beside them. Writes DIR/constrained_sampling.json
and DIR/constrained_sampling.png.

The tokenizer is the embedded default model's (SmolLM2, vocab 49,152) from its cached sketch, or --tokenizer.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.api.tools import calls_node  # noqa: E402
from server.json_mode import JsonConstraint, JsonPrefix  # noqa: E402
from server.json_schema import compile_schema  # noqa: E402
from server.regex_nfa import compile_regex  # noqa: E402
from server.sampling import SamplingParams, sample  # noqa: E402
from server.tokenizer import TokenTexts  # noqa: E402

PERSON = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 40}, "age": {"type": "integer"},
    "email": {"type": "string", "format": "email"}, "tags": {"type": "array", "items": {"type": "string"}},
    "role": {"enum": ["admin", "user", "guest"]}}, "required": ["name", "age", "email", "tags", "role"]}  # fmt: skip
CALL_TOOLS = [{"name": "get_weather", "parameters": {"type": "object", "properties": {
    "city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"]}},
    {"name": "send_email", "parameters": {"type": "object", "properties": {"to": {"type": "string"}}}}]  # fmt: skip
CALLS = calls_node(CALL_TOOLS, parallel=True)  # what tool_choice required decodes
CASES = {  # name -> (params fields, the recognizer, the target output)
    "unconstrained": ({}, None, "Ada Lovelace wrote the first program for the Analytical Engine in 1843."),
    "json_object": ({"json_object": True}, lambda: JsonPrefix(),
                    '{"name": "Ada Lovelace", "year": 1843, "machine": "Analytical Engine", "notes": ["G", "B"]}'),
    "json_schema": ({"json_schema": PERSON}, lambda: JsonPrefix(compile_schema(PERSON)),
                    '{"name": "Ada Lovelace", "age": 36, "email": "ada@example.org", "tags": ["math", "poetry"], '
                    '"role": "admin"}'),
    "guided_regex": ({"guided_regex": r"[A-Z]{2}-\d{4}-[a-z]+"},
                     lambda: JsonPrefix.regex(compile_regex(r"[A-Z]{2}-\d{4}-[a-z]+")), "FR-2026-paris"),
    "guided_choice": ({"guided_choice": ["positive", "negative", "neutral"]},
                      lambda: JsonPrefix.choice(["positive", "negative", "neutral"]), "negative"),
    "tool call": ({"json_schema": CALLS}, lambda: JsonPrefix(CALLS),
                  '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'),
}
CASES["json_schema, sampled"] = ({"json_schema": PERSON, "temperature": 0.8, "top_p": 0.95}, *CASES["json_schema"][1:])
CASES["unconstrained, sampled"] = ({"temperature": 0.8, "top_p": 0.95}, *CASES["unconstrained"][1:])


def time_case(fields, make_prefix, target: str, tokenizer, texts: TokenTexts, vocab: int, rounds: int) -> dict:
    ids = tokenizer.encode(target, add_special_tokens=False)
    gen = torch.Generator().manual_seed(0)
    rows = [torch.randn(1, vocab, generator=gen) for _ in ids]
    for row, t in zip(rows, ids, strict=True):
        row[0, t] = row.max() + 30.0  # the target ranks first, and a sampled row draws it (all but surely)
    params = SamplingParams(**fields) if fields else SamplingParams()
    times = []
    for _ in range(rounds):
        constraint = JsonConstraint(texts, make_prefix()) if make_prefix else None
        t0 = time.perf_counter()
        for row, t in zip(rows, ids, strict=True):
            got = sample(row, [params], [None], constraints=[constraint]).tokens[0]
            assert got == t, (texts(got), texts(t))  # the target is valid: the sampler takes it
            if constraint is not None:
                constraint.advance(got)
        times.append((time.perf_counter() - t0) / len(ids) * 1e6)
    return {"us_per_token": statistics.median(times), "tokens": len(ids), "rounds": times}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", default=None, help="a tokenizer directory (default: the default model's sketch)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from transformers import AutoTokenizer

    path = args.tokenizer
    if path is None:
        from sketch.pipeline import ensure_default_sketch

        path = ensure_default_sketch(bits=4, gpr=4)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    vocab = len(tokenizer)
    texts = TokenTexts(tokenizer, skip_special_tokens=True)
    texts.single_characters(vocab)  # every id's text decoded once, as an engine does at its first constrained request
    results = {}
    for name, (fields, make_prefix, target) in CASES.items():
        results[name] = time_case(fields, make_prefix, target, tokenizer, texts, vocab, args.rounds)
        print(f"{name:14s} {results[name]['us_per_token']:8.0f} us/token over {results[name]['tokens']} tokens")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                         f"torch {torch.__version__}", "tokenizer": str(path), "vocab": vocab, "cases": results}
    (args.out / "constrained_sampling.json").write_text(json.dumps(report, indent=1))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.2))
        names = list(results)
        ax.barh(names, [results[n]["us_per_token"] for n in names], color="tab:blue")
        ax.set_xlabel("host microseconds per generated token (sampler + recognizer)")
        ax.invert_yaxis()
        ax.set_title(f"Constrained sampling, vocab {vocab}")
        fig.tight_layout()
        fig.savefig(args.out / "constrained_sampling.png", dpi=120)
    except ImportError:
        print("(matplotlib missing: no plot)")


if __name__ == "__main__":
    main()
