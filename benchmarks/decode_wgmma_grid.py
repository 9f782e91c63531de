"""Few tokens of one task (decode, M <= 16) on the wgmma kernel with split-K, against the op as shipped and cuBLAS.

    python3 benchmarks/decode_wgmma_grid.py --out OUT_DIR [--gpr 1] [--tokens 4,8,16] [--shapes 4096x4096,...]
                                            [--variants plain,codes,staged] [--stages 3,4]

The one-task decode bar asks for 2.5x cuBLAS at every batch up to 16; the shipped kernels reach 1.1-1.6x from 2 to 16
tokens (the fragment kernel, the tensor-core register-LUT kernel: its dequantized tile goes through shared memory
behind CTA barriers). The wgmma prefill kernel's TMA form hands its looked-up fragments to the MMA from registers;
with few tokens its grid of row tiles alone is too small for the GPU, so its K is split (SPLIT_K: ranges of whole
blocks, the partials summed by the tile's last program). Per shape and token count: every config of a small grid
(tile rows and warps, PINGPONG, stages, split-K for about 1-4 programs an SM), checked against the torch reference,
timed as the kernel table times (CUDA-graph replays, L2 flushed before each). Writes OUT_DIR/decode_wgmma_grid.json.

--variants (fifty-ninth session): each config also with the latency cures the prefill grid found, against the
thirtieth session's finding that this kernel waits on a chain of latencies at few tokens (the slot, the LUT rows,
the codes, each block's MMA before the next lookups): `codes` (CODES_TMA: the code words by TMA, three blocks ahead),
`staged` (CODES_TMA and LUT_STAGE: the tile's LUT rows by TMA too, at any gpr); `plain` sets CODES_TMA 0 (the
PINGPONG tiles' default since the sixtieth session). H100, 4096x4096, one task, sixtieth session: every variant's best
within 0.1 us of plain's at 4 and 16 tokens (12.5-12.8 us); `ahead` (A_AHEAD over CODES_TMA: the next block's
lookups during the MMA) took 13.2-13.3, and A_AHEAD was removed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import BITS, Layer, checked_timings, dims, graph_us  # noqa: E402

from kernels import SlotSegments  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_ops import lut_linear_forward  # noqa: E402
from kernels.triton_prefill_prmt import SegmentTiles  # noqa: E402
from kernels.triton_prefill_wgmma import launch_prefill_wgmma  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]
TILES = [(64, 4, 0), (128, 8, 0), (128, 8, 1)]  # (BLOCK_N rows, warps, PINGPONG)
VARIANTS = {"plain": {"CODES_TMA": 0}, "codes": {"CODES_TMA": 1}, "staged": {"CODES_TMA": 1, "LUT_STAGE": 1}}
VARIANT_KEYS = {key for keys in VARIANTS.values() for key in keys}


def variant_keys(cfg: dict) -> dict:
    """The keys of cfg that name its variant (VARIANTS' values)."""
    return {key: v for key, v in cfg.items() if key in VARIANT_KEYS}


def configs(n: int, k: int, m: int, sms: int, variants: tuple[str, ...] = ("plain",),
            stages_list: tuple[int, ...] = (3, 4)) -> list[dict]:  # fmt: skip
    out = []
    for (bn, warps, pingpong), stages, per_sm in itertools.product(TILES, stages_list, (1, 2, 3, 4)):
        tiles = -(-n // bn)
        split = max(1, min(k // 64, round(per_sm * sms / tiles)))
        cfg = {"WGMMA": 1, "X_TMA": 1, "BLOCK_M": 8 if m <= 8 else 16, "BLOCK_N": bn, "BLOCK_K": 64,
               "num_warps": warps, "num_stages": stages, "STORE_ROWS": 0, "PINGPONG": pingpong, "SPLIT_K": split}
        for variant in variants:
            if {**cfg, **VARIANTS[variant]} not in out:
                out.append({**cfg, **VARIANTS[variant]})
    return out


def run_case(layer: Layer, m: int, gpr: int, sms: int, variants: tuple[str, ...] = ("plain",),
             stages: tuple[int, ...] = (3, 4)) -> dict:  # fmt: skip
    """cuBLAS, the shipped op and the grid's configs at m tokens of one task on one layer."""
    n, k = layer.n, layer.k
    codes, pool = layer.codes[0], layer.pools[0]
    x = torch.randn(m, k, device="cuda").half()
    slots = torch.zeros(m, dtype=torch.int32, device="cuda")
    segments = SlotSegments.from_counts([0], [m], "cuda")
    tiles = SegmentTiles(segments.starts, (m,), 1)
    ref = lut_linear_reference(x, codes, pool, slots, BITS)
    cublas = graph_us(lambda: x @ layer.weights[0].T)
    shipped = graph_us(lambda: lut_linear_forward(x, codes, pool, slots, BITS))
    y = torch.empty(m, n, dtype=torch.float16, device="cuda")
    launch = lambda c: launch_prefill_wgmma(x, codes, pool, slots, BITS, y, c, tiles)  # noqa: E731
    timed = checked_timings(configs(n, k, m, sms, variants, stages), launch, y, ref)
    best_us, best, err = timed[0] if timed else (float("nan"), None, float("nan"))
    print(f"{n}x{k} M={m} gpr {gpr}: cuBLAS {cublas:.1f} us, shipped {shipped:.1f} ({cublas / shipped:.2f}x), "
          f"wgmma split-K {best_us:.1f} ({cublas / best_us:.2f}x) {best} err {err:.1e}; next: "
          f"{[round(u, 1) for u, _, _ in timed[1:4]]}", flush=True)  # fmt: skip
    # each variant's best (timed is fastest first), beside plain's
    best_of = {}
    for us, cfg, _ in timed:
        best_of.setdefault(next(v for v, keys in VARIANTS.items() if variant_keys(cfg) == keys), (us, cfg))
    for variant in variants:
        if variant != "plain" and variant in best_of and "plain" in best_of:
            us, cfg = best_of[variant]
            print(f"  {variant}: best {us:.1f} us against plain {best_of['plain'][0]:.1f} ({cfg})", flush=True)
    return {"N": n, "K": k, "M": m, "gpr": gpr, "cublas_us": cublas, "shipped_us": shipped, "wgmma_us": best_us,
            "wgmma_config": best, "rel_err": err, "all": [(u, c) for u, c, _ in timed]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gpr", type=int, default=1)
    parser.add_argument("--tokens", default="4,8,16")
    parser.add_argument("--shapes", default=",".join(f"{n}x{k}" for n, k in SHAPES), help="NxK, comma-separated")
    parser.add_argument("--variants", default="plain", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--stages", default="3,4", help="ring depths, comma-separated (3 to 8: MAX_TMA_STAGES)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows = []
    variants = tuple(args.variants.split(","))
    stages = tuple(int(v) for v in args.stages.split(","))
    for n, k in dims(args.shapes):
        layer = Layer(n, k, args.gpr)
        rows += [run_case(layer, int(t), args.gpr, sms, variants, stages) for t in args.tokens.split(",")]
        del layer
        torch.cuda.empty_cache()
    out = {"gpu": torch.cuda.get_device_name(), "rows": rows}
    (args.out / f"decode_wgmma_grid_gpr{args.gpr}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
