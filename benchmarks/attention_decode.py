"""The paged decode attention kernel (server/triton_fused.py) at the 7B geometry (32 heads of 128, one KV head each,
16-token blocks): the shipped launch and candidate configs, in turns, against the KV bytes' bandwidth floor.

    python3 benchmarks/attention_decode.py [--out DIR] [--batches 1 16 64] [--contexts 160 1024]

The 16 x 16 serving step spent 680 us of 9.27 ms in it (32 layers, ~160-190 tokens a context; NOTES.md,
thirty-fifth session): about half the KV rows' bandwidth; ~20 us a layer since (thirty-sixth). Each config's
output is checked against the torch form.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import turns_us  # noqa: E402

from server.triton_fused import (  # noqa: E402
    _dense_decode_attention,
    attention_config,
    attention_splits,
    launch_paged_decode_attention,
    num_sms,
)

HEADS, HEAD_DIM, BLOCK = 32, 128, 16
BANDWIDTH = 4.22e12  # bytes/s, the H200's measured copy bandwidth
CONFIGS = {  # (BLOCK_T, warps, parts a context (None: the op's default), PREFETCH); the thirty-fifth session also
    # timed a CUDA-core form (46.6 us at 16 x 160 with 64 x 4; results/attention_decode_cores_thirtyfifth.log), the
    # thirty-sixth num_stages 2 and 3 (the same PTX as 1: not pipelined)
    "32 x 8 (before)": (32, 8, None, 0),
    "32 x 8, 2 parts": (32, 8, 2, 0),
    "16 x 4": (16, 4, None, 0),
    "32 x 4": (32, 4, None, 0),
    "64 x 4": (64, 4, None, 0),
    "64 x 8": (64, 8, None, 0),
    "32 x 2": (32, 2, None, 0),
    "16 x 4, prefetch": (16, 4, None, 1),
    "32 x 4, prefetch": (32, 4, None, 1),
    "64 x 4, prefetch": (64, 4, None, 1),
    "64 x 8, prefetch": (64, 8, None, 1),
    # the parts a context in serving come from its block tables' capacity (the longest context the engine admits),
    # not from the context: 8 parts at batch 1 for a 4,096-token capacity (thirty-seventh session)
    "64 x 4, 8 parts": (64, 4, 8, 0),
    "64 x 8, prefetch, 8 parts": (64, 8, 8, 1),
    "32 x 4, prefetch, 8 parts": (32, 4, 8, 1),
}


def case(batch: int, ctx: int) -> dict:
    dev = torch.device("cuda")
    nb = -(-ctx // BLOCK)
    k_cache = torch.randn(batch * nb + 1, BLOCK, HEADS, HEAD_DIM, device=dev, dtype=torch.float16)
    v_cache = torch.randn_like(k_cache)
    tables = torch.randperm(batch * nb, device=dev).view(batch, nb) + 1  # scattered blocks
    lens = torch.full((batch,), ctx, device=dev, dtype=torch.int32)
    q = torch.randn(batch, HEADS, HEAD_DIM, device=dev, dtype=torch.float16)
    splits = attention_splits(batch * HEADS, nb * BLOCK, num_sms(dev))
    want = _dense_decode_attention(q, k_cache, v_cache, tables, lens, HEAD_DIM**-0.5)
    runs = {}
    for name, (block_t, warps, parts, prefetch) in CONFIGS.items():
        config = {"BLOCK_T": block_t, "num_warps": warps, "PREFETCH": prefetch}
        n = parts or splits
        got = launch_paged_decode_attention(q, k_cache, v_cache, tables, lens, HEAD_DIM**-0.5, n, config)
        err = (got.float() - want.float()).abs().max().item()
        if err > 2e-2:
            raise SystemExit(f"{name}: differs from the torch form by {err:.3g}")
        runs[name] = lambda c=config, n=n: launch_paged_decode_attention(q, k_cache, v_cache, tables, lens,
                                                                         HEAD_DIM**-0.5, n, c)  # fmt: skip
    t = turns_us(runs)
    kv_bytes = 2 * batch * ctx * HEADS * HEAD_DIM * 2
    floor = kv_bytes / BANDWIDTH * 1e6
    shipped = attention_config(batch * HEADS, num_sms(dev))
    print(f"batch {batch}, context {ctx} ({splits} part(s)), floor {floor:.1f} us; shipped {shipped}: "
          + "; ".join(f"{name} {us:.1f} us ({kv_bytes / us / 1e3:.0f} GB/s)" for name, us in t.items()),
          flush=True)  # fmt: skip
    return {"batch": batch, "context": ctx, "splits": splits, "floor_us": floor, "us": t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--contexts", type=int, nargs="+", default=[160, 1024])
    args = ap.parse_args()
    rows = [case(b, c) for b in args.batches for c in args.contexts]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "attention_decode.json").write_text(json.dumps({"gpu": torch.cuda.get_device_name(),
                                                                     "rows": rows}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
