"""Seventy-first session: the one-task decode keys at argv[1] tokens (default 16) tuned again on this GPU with
today's candidates (the fragment kernel's KW forms among them, added after the H100's 16-token keys were last
tuned), and each key's shipped choice, the new choice and the 4-token key's KW-8 form timed in turns with cuBLAS
(graph replays, L2 flushed; bench_kernels.shipped_in_turns), each checked against the reference.
Writes $OUT/retune_<tokens>_<label>.json (argv[2], default seventyfirst); prints a line a key."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.bench_kernels import (  # noqa: E402
    BITS,
    layers,
    make_batch,
    one_task_decode_key,
    shipped_in_turns,
)
from kernels import autotune  # noqa: E402
from kernels.triton_ops import lut_linear_forward  # noqa: E402

TOKENS = int(sys.argv[1]) if len(sys.argv) > 1 else 16
LABEL = sys.argv[2] if len(sys.argv) > 2 else "seventyfirst"
KW8 = {"AHEAD": 2, "EARLY": 1, "KW": 8, "MODE": 5, "ROWS": 1, "SPLIT_K": 1, "W16": 1, "WPL": 4, "num_warps": 8}


def main() -> None:
    device = torch.device("cuda")
    shipped_file = autotune.SHIPPED_DIR / autotune.cache_path(device).name  # this GPU's shipped choices
    shipped = json.loads(shipped_file.read_text())
    autotune._load(autotune.cache_path(device))
    new: dict = {}
    for n, k, gpr, layer in layers():
        key = one_task_decode_key(TOKENS, n, k, gpr)
        autotune._MEMORY.pop(key, None)
        autotune._FAST.clear()
        x, slots = make_batch(TOKENS, 1, k)
        lut_linear_forward(x, layer.codes[0], layer.pools[0], slots, BITS, num_tasks=1)  # tunes the key
        new[key] = autotune._MEMORY.get(key)
        print(f"{key}: shipped {shipped.get(key)}, new {new[key]}", flush=True)

    def variants(choice: dict, key: str) -> dict:
        out = {"shipped": choice, "new": new.get(key) or choice}
        if (key.split("|")[1].split(",")[1]) == "4096":  # the KW-8 form tiles 4096-row layers in one wave
            out["kw8"] = KW8
        return out

    shipped_in_turns(shipped, variants, f"retune_{TOKENS}_{LABEL}.json", tokens=(TOKENS,), gprs=(1, 4))


if __name__ == "__main__":
    main()
