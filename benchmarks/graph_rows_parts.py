"""Why a 200-token prompt ran slower as 200 graph rows (46 ms) than eagerly (25 ms): the parts of one layer at R rows.

    python3 benchmarks/graph_rows_parts.py [--rows 64 128 200 256]

Each 7B projection (gpr 1, one task) through the op as the decode graphs call it (slot_of_token only) and as the
eager step does (slot runs: the dense path), and fp16 cuBLAS on a dense weight; the attention as graph rows (the
paged decode kernel, row i over i + 1 cached tokens) and as the eager prefill (causal SDPA, flash). Times from CUDA
graph replays (kernels/timing.py), per layer in us, and x 32 layers in ms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import SlotSegments, lut_linear  # noqa: E402
from kernels.packing import pack_codes  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402
from server.triton_fused import paged_decode_attention  # noqa: E402

SHAPES = {"qkv": (12288, 4096), "o": (4096, 4096), "gate_up": (22016, 4096), "down": (4096, 11008)}
HEADS, HEAD_DIM, BLOCK = 32, 128, 16


def time_rows(rows: int, layers: dict, dev: torch.device) -> None:
    slots = torch.zeros(rows, dtype=torch.int32, device=dev)
    runs = SlotSegments.from_counts([0], [rows], dev, per_token=slots)
    total = {"graph rows": 0.0, "slot runs": 0.0, "cuBLAS": 0.0}
    for name, (codes, pool, w) in layers.items():
        x = torch.randn(rows, w.shape[1], device=dev, dtype=torch.float16)
        t_rows = graph_time_ms(lambda x=x, c=codes, p=pool: lut_linear(x, c, p, slots, 4, 1, False, num_tasks=1))
        t_runs = graph_time_ms(lambda x=x, c=codes, p=pool: lut_linear(x, c, p, runs, 4, 1, False, num_tasks=1))
        t_mm = graph_time_ms(lambda x=x, w=w: x @ w.t())
        print(f"rows {rows} {name}: graph rows {t_rows * 1e3:.1f} us, slot runs {t_runs * 1e3:.1f} us, "
              f"cuBLAS {t_mm * 1e3:.1f} us", flush=True)  # fmt: skip
        for key, t in zip(total, (t_rows, t_runs, t_mm), strict=True):
            total[key] += t
    nb = (rows + BLOCK - 1) // BLOCK
    k_cache = torch.randn(nb + 1, BLOCK, HEADS, HEAD_DIM, device=dev, dtype=torch.float16)
    v_cache = torch.randn_like(k_cache)
    tables = torch.arange(1, nb + 1, device=dev)[None].expand(rows, nb).contiguous()
    lens = torch.arange(1, rows + 1, device=dev, dtype=torch.int32)
    q = torch.randn(rows, HEADS, HEAD_DIM, device=dev, dtype=torch.float16)
    t_paged = graph_time_ms(lambda: paged_decode_attention(q, k_cache, v_cache, tables, lens, 0.088))
    q4 = q.transpose(0, 1)[None]
    k4 = torch.randn(1, HEADS, rows, HEAD_DIM, device=dev, dtype=torch.float16)
    t_sdpa = graph_time_ms(lambda: F.scaled_dot_product_attention(q4, k4, k4, is_causal=True))
    print(f"rows {rows} attention: paged decode {t_paged * 1e3:.1f} us, causal SDPA {t_sdpa * 1e3:.1f} us")
    print(f"rows {rows} per 32 layers: projections as graph rows {total['graph rows'] * 32:.2f} ms, as slot runs "
          f"{total['slot runs'] * 32:.2f} ms, cuBLAS {total['cuBLAS'] * 32:.2f} ms; attention paged "
          f"{t_paged * 32:.2f} ms, SDPA {t_sdpa * 32:.2f} ms", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[64, 128, 200, 256])
    args = ap.parse_args()
    dev = torch.device("cuda")
    layers = {}
    for name, (n, k) in SHAPES.items():
        codes = pack_codes(torch.randint(0, 16, (n, k), device=dev), 4)
        pool = (torch.randn(3, n, 1, 16, device=dev) * 0.02).half()
        layers[name] = (codes, pool, (torch.randn(n, k, device=dev) * 0.02).half())
    for rows in args.rows:
        time_rows(rows, layers, dev)


if __name__ == "__main__":
    main()
