"""Seventy-second session: the public op's prefill on per-token slots (a direct caller of kernels.lut_linear, no
SlotSegments), planned per run of equal slots from the host copy that its range check reads (triton_ops.HOST_PLAN,
_host_planned) against the fused kernel over sorted slots (HOST_PLAN off, as before), and against the same tokens
given as SlotSegments where they are grouped (the engine's path). Eager (the range check reads the device, so no
graph): do_bench with L2 flushed, the layer's copies rotated, the forms in turns. 128-2,048 tokens over 1 task, 8
tasks grouped, 8 tasks interleaved (random order). Each form's output checked against the reference once.
Prediction: 2,048 tokens of one task on 4096x4096 ~190 -> ~110-115 us; interleaved 8 tasks pays ~25 us of copies
over the grouped plan. Measured (first call): the plan's host work cost 60-290 us over the given segments and the
interleaved gather lost 9 of 12 cases; the second call times the plan with its segments copied ahead without a wait,
interleaved tokens left to the fused kernel. Prints one JSON line a case and writes $OUT/host_plan.json."""

import json
import os
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from benchmarks.bench_kernels import BITS, ROTATE, Layer, bench, cublas_fns, rotating  # noqa: E402
from kernels import SlotSegments, lut_linear, triton_ops  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402

CASES = [(m, t, order) for m in (128, 512, 2048) for t, order in ((1, "grouped"), (8, "grouped"), (8, "interleaved"))]
LAYERS = [(4096, 4096, 1), (4096, 4096, 4), (11008, 4096, 1), (4096, 11008, 1)]


def slots_of(m: int, tasks: int, order: str) -> tuple[torch.Tensor, SlotSegments | None]:
    per = m // tasks
    grouped = (torch.arange(m, device="cuda") // per).clamp(max=tasks - 1).to(torch.int32)
    if order == "grouped":
        counts = [per] * (tasks - 1) + [m - per * (tasks - 1)]
        return grouped, SlotSegments.from_counts(list(range(tasks)), counts, "cuda", per_token=grouped)
    return grouped[torch.randperm(m, device="cuda")].contiguous(), None


def time_case(layer: Layer, m: int, tasks: int, order: str, rounds: int = 4) -> dict:
    x = torch.randn(m, layer.k, device="cuda").half()
    slots, segments = slots_of(m, tasks, order)

    def op(plan: bool, given):
        def run(i):
            triton_ops.HOST_PLAN = plan
            return lut_linear(x, layer.codes[i], layer.pools[i], given, BITS, layer.gpr)

        return [lambda i=i: run(i) for i in range(ROTATE)]

    forms = {"fused": op(False, slots), "planned": op(True, slots)}
    if segments is not None:
        forms["segments"] = op(True, segments)
    ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS).float()
    rec: dict = {"N": layer.n, "K": layer.k, "gpr": layer.gpr, "M": m, "tasks": tasks, "order": order}
    for name, fns in forms.items():
        y = fns[0]().float()
        rec[f"{name}_rel_err"] = ((y - ref).norm() / ref.norm()).item()
    times: dict = {name: [] for name in forms}
    times["cublas"] = []
    for r in range(rounds):
        # the forms' order reversed every other round: with "fused" always first, the declined plan (the same
        # kernels) timed 9-208 us slower in 14 of 16 cases (seventy-sixth session)
        for name, fns in list(forms.items())[:: -1 if r % 2 else 1]:
            times[name].append(bench(rotating(fns), rep=50))
        times["cublas"].append(bench(rotating(cublas_fns(layer, x)), rep=50))
    triton_ops.HOST_PLAN = True
    rec.update({f"{name}_us": statistics.median(v) for name, v in times.items()})
    return rec


def main() -> None:
    records = []
    quick = sys.argv[1:] == ["quick"]  # two layers (gpr 1: 4096x4096, 11008x4096)
    for n, k, gpr in [(n, k, g) for n, k, g in LAYERS if g == 1 and k == 4096] if quick else LAYERS:
        layer = Layer(n, k, gpr)
        for m, tasks, order in CASES:
            rec = time_case(layer, m, tasks, order)
            records.append(rec)
            print(json.dumps(rec), flush=True)
        del layer
        torch.cuda.empty_cache()
    out = Path(os.environ.get("OUT", "."))
    (out / "host_plan.json").write_text(json.dumps({"device": torch.cuda.get_device_name(), "cases": records}))


if __name__ == "__main__":
    main()
