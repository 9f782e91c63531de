"""Seventy-first session: a LUT fine-tune's linear on CUDA (kernels.lut_linear_autograd, one task, fp16) with its
slots as per-token zeros (as sketch/lut_model.LutLinear passed them before) against one SlotSegments segment (as it
passes them now): the forward and forward + backward (grad_x and grad_lut) timed eagerly (do_bench; the autograd op
reads the slots' range on the host, so no graph), cuBLAS beside them; the two outputs compared. Prints one JSON
line a case."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.bench_kernels import BITS, ROTATE, Layer, bench, cublas_fns, rotating  # noqa: E402
from kernels import SlotSegments, lut_linear_autograd  # noqa: E402


def time_case(layer: Layer, pools: list, gpr: int, m: int) -> dict:
    x = torch.randn(m, layer.k, device="cuda").half().requires_grad_(True)
    per_token = torch.zeros(m, dtype=torch.int32, device="cuda")
    forms = {"per_token": per_token, "segments": SlotSegments.from_counts([0], [m], "cuda", per_token=per_token)}

    def forward(slots, i):
        return lut_linear_autograd(x, layer.codes[i], pools[i], slots, BITS, gpr)

    def step(slots, i):
        forward(slots, i).sum().backward()

    with torch.no_grad():  # eagerly: the autograd op checks the slots' range on the host (not capturable)
        ys = {name: forward(s, 0) for name, s in forms.items()}
        us = {"cublas": bench(rotating(cublas_fns(layer, x.detach())))}
        for name, s in forms.items():
            us[name] = bench(rotating([lambda s=s, i=i: forward(s, i) for i in range(ROTATE)]))
    train = {name: bench(rotating([lambda s=s, i=i: step(s, i) for i in range(ROTATE)]), rep=50)
             for name, s in forms.items()}  # fmt: skip
    diff = (ys["per_token"].float() - ys["segments"].float()).abs().max().item()
    return {"N": layer.n, "K": layer.k, "gpr": gpr, "M": m, "forward_eager_us": us, "forward_backward_eager_us": train,
            "max_abs_diff": diff}  # fmt: skip


def main() -> None:
    for n, k in [(4096, 4096), (11008, 4096)]:
        for gpr in (1, 4):
            layer = Layer(n, k, gpr, slots=1)
            pools = [p.clone().requires_grad_(True) for p in layer.pools]
            for m in (512, 2048):
                print(json.dumps(time_case(layer, pools, gpr, m)), flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
