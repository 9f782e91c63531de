"""How fast can any kernel that reads a layer's codes once be, timed as the kernel table times (CUDA-graph replays,
L2 flushed before each call: kernels/timing.py)? The one-token bar asks for 2.5x cuBLAS; this bounds the ratio a
perfect codes reader could reach in the same harness.

    python3 benchmarks/read_floor.py --out OUT_DIR
    python3 benchmarks/read_floor.py --plot OUT_DIR/read_floor.json     (the PNG again, no GPU)

Per Llama-2-7B shape: the fastest of a few configs of a streaming kernel that reads the 4-bit codes ([N, K/2]
bytes) and writes one partial sum a program (so nothing is optimized away), fp16 cuBLAS on one token (x @ W.T), and
the op at one token (gpr 1), all in one process. (The thirty-first session timed a persistent form of the one-token
kernel here too: slower than the shipped grid on every shape, removed; benchmarks/NOTES.md.) The flush leaves the L2
full of dirty lines, so each kernel's reads also evict (write back) about as many bytes as it reads: cuBLAS moves
~2 x 2NK bytes, a codes reader ~2 x NK/2.
Writes OUT_DIR/read_floor.json and read_floor.png (microseconds per shape, against the time the 2.5x bar allows).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import BITS, Layer, graph_us  # noqa: E402

from kernels.triton_ops import lut_linear_forward  # noqa: E402

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008)]
# (int4 elements a program-iteration, warps, programs a SM)
CONFIGS = [(4096, 4, 4), (4096, 8, 4), (8192, 8, 2), (2048, 4, 8), (8192, 8, 4), (16384, 16, 2)]


@triton.jit
def _read_kernel(src_ptr, out_ptr, n_vec, BLOCK: tl.constexpr):
    """Program p sums int32 words p*BLOCK.. of src strided by the grid (each word read once), as 4-word vectors."""
    pid = tl.program_id(0)
    step = tl.num_programs(0) * BLOCK
    acc = tl.zeros([BLOCK], dtype=tl.int32)
    for start in range(pid * BLOCK, n_vec, step):
        offs = start + tl.arange(0, BLOCK)
        acc ^= tl.load(src_ptr + offs, mask=offs < n_vec, other=0)
    tl.store(out_ptr + pid, tl.sum(acc, 0))


def read_us(codes: torch.Tensor, block: int, warps: int, per_sm: int) -> float:
    words = codes.view(torch.int32).flatten()
    grid = torch.cuda.get_device_properties(0).multi_processor_count * per_sm
    out = torch.empty(grid, dtype=torch.int32, device="cuda")
    return graph_us(lambda: _read_kernel[(grid,)](words, out, words.numel(), BLOCK=block, num_warps=warps))


def plot(result: dict, path: Path) -> None:
    """Bars per shape: the codes reader, the op and cuBLAS; a mark at cuBLAS / 2.5, the most the bar allows the op."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    series = [("codes read only", lambda r: r["read_us"]), ("op (shipped)", lambda r: r["ours_us"]),
              ("fp16 cuBLAS", lambda r: r["cublas_us"])]  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(series)
    for i, (name, value) in enumerate(series):
        ax.bar([j + i * width for j in range(len(rows))], [value(r) for r in rows], width=width, label=name)
    for j, r in enumerate(rows):
        ax.hlines(r["cublas_us"] / 2.5, j - width / 2, j + 0.8 - width / 2, colors="k", linestyles="--",
                  label="cuBLAS / 2.5 (the bar)" if j == 0 else None)  # fmt: skip
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))], [f"{r['N']}x{r['K']}" for r in rows])
    ax.set_ylabel("us per call (graph replays, L2 flushed)")
    ax.set_title(f"One token, gpr 1, 4-bit ({result['gpu']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path, help="a read_floor.json to draw again (no GPU)")
    args = parser.parse_args()
    if args.plot:
        plot(json.loads(args.plot.read_text()), args.plot.with_suffix(".png"))
        return
    if args.out is None:
        parser.error("--out is required unless --plot")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, k in SHAPES:
        layer = Layer(n, k, 1)
        x = torch.randn(1, k, device="cuda").half()
        slots = torch.zeros(1, dtype=torch.int32, device="cuda")
        reads = {f"{b}x{w}w x{p}": read_us(layer.codes[0], b, w, p) for b, w, p in CONFIGS}
        best = min(reads, key=reads.get)
        cublas = graph_us(lambda layer=layer, x=x: x @ layer.weights[0].T)
        codes, pool = layer.codes[0], layer.pools[0]
        ours = graph_us(lambda c=codes, p=pool, x=x, s=slots: lut_linear_forward(x, c, p, s, BITS))
        row = {"N": n, "K": k, "codes_MB": layer.codes[0].numel() / 1e6, "read_us": reads[best], "read_config": best,
               "reads": reads, "cublas_us": cublas, "ours_us": ours}  # fmt: skip
        rows.append(row)
        print(f"{n}x{k}: codes read {reads[best]:.1f} us ({best}; {row['codes_MB'] / reads[best]:.2f} TB/s), cuBLAS "
              f"{cublas:.1f} us, op {ours:.1f} us: cuBLAS / read {cublas / reads[best]:.2f}x, cuBLAS / op "
              f"{cublas / ours:.2f}x", flush=True)  # fmt: skip
        del layer
        torch.cuda.empty_cache()
    result = {"gpu": torch.cuda.get_device_name(), "rows": rows}
    (args.out / "read_floor.json").write_text(json.dumps(result, indent=1))
    plot(result, args.out / "read_floor.png")


if __name__ == "__main__":
    main()
