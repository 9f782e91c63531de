"""Seventy-sixth session, for the next H100 (~3 min): a few tokens, each of its own task. No bar names the case, but
a server meets it whenever a few tenants decode at once; the seventy-sixth session's kernel table has 4 tokens over
4 tasks at 19.7 us on 4096x4096 against cuBLAS's 17.9 (the fragment kernel passes over the codes once a slot; the
bucket kernel 20.0). Would a token axis in the one-token kernel's grid be worth writing? Timed from graph replays
(L2 flushed before each call), every form's output checked against the reference first:
- dispatched: the op as the server calls it (M tokens, M slots, num_tasks M);
- one by one: the one-token op once a token, one launch after the other;
- branches: the same M launches on M forked streams of the graph, which may run at once: about what a token axis
  in the grid would give (the codes read from DRAM once if the tokens' programs run together), less its launches.
Prediction, 4 tokens on 4096x4096 gpr 1: dispatched ~20 us, one by one ~29, branches ~12-14.

    source benchmarks/device/prep.sh; python3 benchmarks/device/sessions/seventysixth_tokens_apart.py

Prints a line a case and writes $OUT/tokens_apart.json."""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from kernels import lut_linear  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.timing import graph_time_ms  # noqa: E402

SHAPES = ((4096, 4096), (11008, 4096), (4096, 11008))  # (N, K)


def time_case(n: int, k: int, gpr: int, m: int, g: torch.Generator) -> dict:
    dev = torch.device("cuda")
    codes = torch.randint(0, 256, (n, k // 2), generator=g, device=dev, dtype=torch.uint8)  # 4-bit, packed
    pool = (torch.randn(m + 1, n, gpr, 16, generator=g, device=dev) * 0.02).half()
    weight = (torch.randn(n, k, generator=g, device=dev) * 0.02).half()
    x = torch.randn(m, k, generator=g, device=dev).half()
    slots = torch.arange(1, m + 1, dtype=torch.int32, device=dev)  # token i: slot i + 1, every token its own task
    rows = [(x[i : i + 1], slots[i : i + 1]) for i in range(m)]
    streams = [torch.cuda.Stream() for _ in range(m)]

    def one(xi: torch.Tensor, si: torch.Tensor) -> torch.Tensor:
        return lut_linear(xi, codes, pool, si, 4, gpr, check_slot_range=False, num_tasks=1)

    def dispatched() -> torch.Tensor:
        return lut_linear(x, codes, pool, slots, 4, gpr, check_slot_range=False, num_tasks=m)

    def one_by_one() -> list[torch.Tensor]:
        return [one(xi, si) for xi, si in rows]

    def branches() -> list[torch.Tensor]:
        main = torch.cuda.current_stream()
        outs = []
        for stream, (xi, si) in zip(streams, rows, strict=True):
            stream.wait_stream(main)
            with torch.cuda.stream(stream):
                outs.append(one(xi, si))
        for stream in streams:
            main.wait_stream(stream)
        return outs

    ref = lut_linear_reference(x, codes, pool, slots, 4).float()
    rec: dict = {"N": n, "K": k, "gpr": gpr, "M": m}
    for name, fn in (("dispatched", dispatched), ("one_by_one", one_by_one), ("branches", branches)):
        y = fn()
        y = torch.cat(y) if isinstance(y, list) else y
        torch.cuda.synchronize()
        rec[f"{name}_rel_err"] = ((y.float() - ref).norm() / ref.norm()).item()
        rec[f"{name}_us"] = graph_time_ms(fn) * 1e3
    rec["cublas_us"] = graph_time_ms(lambda: x @ weight.T) * 1e3
    return rec


def main() -> None:
    g = torch.Generator(device="cuda").manual_seed(0)
    print(torch.cuda.get_device_name(), flush=True)
    records = []
    for gpr in (1, 4):
        for m in (4, 2):
            for n, k in SHAPES:
                rec = time_case(n, k, gpr, m, g)
                records.append(rec)
                print(f"{n}x{k} gpr {gpr}, {m} tokens of {m} tasks: dispatched {rec['dispatched_us']:.1f} us, one by "
                      f"one {rec['one_by_one_us']:.1f}, branches {rec['branches_us']:.1f}, cuBLAS "
                      f"{rec['cublas_us']:.1f}; rel err {rec['dispatched_rel_err']:.1e} / "
                      f"{rec['one_by_one_rel_err']:.1e} / {rec['branches_rel_err']:.1e}", flush=True)
                torch.cuda.empty_cache()
    out = Path(os.environ.get("OUT", "."))
    (out / "tokens_apart.json").write_text(json.dumps({"device": torch.cuda.get_device_name(), "cases": records}))


if __name__ == "__main__":
    main()
