"""Prefill attention on CUDA: each SDPA backend's first call on a new shape (plan building) and its warm time.

    python3 benchmarks/sdpa_backends.py [--heads 32 --kv-heads 32 --head-dim 128]

Shapes as a burst of chunked prompts meets them: causal chunks of n tokens (n new each call), and 16-token chunks
over a cached context of n + 16 (an explicit causal mask, or "lower_right": torch's CausalBias of that alignment).
For each backend set: mean first-call ms over 8 new shapes, then the warm ms of the last shape; a backend that
cannot take the call is reported as such.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

SETS = {
    "default": None,
    "no_cudnn": [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH],
    "cudnn": [SDPBackend.CUDNN_ATTENTION],
    "flash": [SDPBackend.FLASH_ATTENTION],
    "efficient": [SDPBackend.EFFICIENT_ATTENTION],
}


def call(q, k, v, mask, gqa: bool):
    if isinstance(mask, str):  # "lower_right": the chunk's causal mask as a CausalBias (flash takes it, no dense mask)
        mask = causal_lower_right(q.shape[2], k.shape[2])
    if gqa:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None, enable_gqa=True)
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)


def timed(fn) -> float:
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3


def measure(backends, masked: bool | str, gqa: bool, lengths, a) -> str:
    """Mean first-call ms over the new lengths, then the warm ms of the last shape."""
    dev, dt = "cuda", torch.float16

    def run(q, k, v, mask):
        if backends is None:
            return call(q, k, v, mask, gqa)
        with sdpa_kernel(backends):
            return call(q, k, v, mask, gqa)

    firsts = []
    for n in lengths:
        nq, ctx = (16, n + 16) if masked else (n, n)
        q = torch.randn(1, a.heads, nq, a.head_dim, device=dev, dtype=dt)
        k = torch.randn(1, a.kv_heads, ctx, a.head_dim, device=dev, dtype=dt)
        v = torch.randn_like(k)
        mask = None
        if masked == "lower_right":
            mask = masked
        elif masked:
            pos = torch.arange(ctx - nq, ctx, device=dev)
            mask = (torch.arange(ctx, device=dev)[None, :] <= pos[:, None])[None, None]
        firsts.append(timed(lambda q=q, k=k, v=v, mask=mask: run(q, k, v, mask)))
    warm = min(timed(lambda q=q, k=k, v=v, mask=mask: run(q, k, v, mask)) for _ in range(5))
    return f"first call {sum(firsts) / len(firsts):.2f} ms (max {max(firsts):.2f}), warm {warm:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=32)
    ap.add_argument("--head-dim", type=int, default=128)
    a = ap.parse_args()
    print(torch.__version__, torch.cuda.get_device_name(), f"heads {a.heads}/{a.kv_heads} hd {a.head_dim}")
    fresh = iter(range(128, 1 << 20, 16))  # every call a length not met before
    for masked in (False, True, "lower_right"):
        for gqa in (True, False) if a.heads != a.kv_heads else (True,):
            for name, backends in SETS.items():
                label = f"{masked if isinstance(masked, str) else 'masked' if masked else 'causal'} gqa={gqa} {name}"
                try:
                    print(f"{label}: {measure(backends, masked, gqa, [next(fresh) for _ in range(8)], a)}", flush=True)
                except RuntimeError as e:
                    print(f"{label}: cannot ({str(e).splitlines()[0][:80]})", flush=True)


if __name__ == "__main__":
    main()
