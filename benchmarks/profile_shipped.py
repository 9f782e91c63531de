"""One call of the multi-LUT op per case, as the server makes it (the shipped tuning choice), for Nsight Compute.

    ncu -k regex:_decode_prmt_kernel --launch-skip 1 --launch-count 1 --section SourceCounters \\
        --section WarpStateStats -o OUT python3 benchmarks/profile_shipped.py --m 1

Per case: random 4-bit codes and a LUT pool of --tasks slots for an --n x --k layer at --gpr, --m tokens over
--tasks tasks; one warm-up call (compiles; reads the shipped choice, kernels/tuned/, or tunes where none), then one
call to profile, each synchronized. The earlier profiles (fifteenth and nineteenth sessions, benchmarks/NOTES.md)
launched fixed configs, not the ones the op ships; this one launches whatever kernels.triton_ops picks. On the CPU
the op is the torch reference (the script's test runs it there). Prints the chosen kernel config. Above 64 tokens
the op takes its sorted prefill kernel (per-token slots, no host segment bounds: not the dense path).
--prefill-config '{...}' launches the prefill kernels with that config instead of the op's choice (CUDA);
--decode-config '{...}' the decode kernels (triton_decode.launch_decode), e.g. a shipped choice and a variant of
it, profiled one after the other (CUDA).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels import autotune, lut_linear, pack_codes  # noqa: E402
from kernels.triton_common import sort_tokens_by_slot  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402
from kernels.triton_ops import _m_bucket, _shape_key  # noqa: E402
from kernels.triton_prefill import launch_prefill  # noqa: E402

BITS = 4


def make_case(m: int, n: int, k: int, gpr: int, tasks: int, device: torch.device):
    """x [m, k] fp16, packed codes [n, k], a LUT pool [tasks, n, gpr, 16] fp16, slots [m] (tasks interleaved)."""
    g = torch.Generator().manual_seed(0)
    codes = pack_codes(torch.randint(0, 1 << BITS, (n, k), generator=g), BITS).to(device)
    pool = (torch.randn(tasks, n, gpr, 1 << BITS, generator=g) * 0.02).half().to(device)
    x = torch.randn(m, k, generator=g).half().to(device)
    slots = (torch.arange(m) % tasks).to(torch.int32).to(device)
    return x, codes, pool, slots


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=1, help="tokens")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--k", type=int, default=4096)
    ap.add_argument("--gpr", type=int, default=1)
    ap.add_argument("--tasks", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--prefill-config", type=json.loads, default=None,
                    help="JSON: launch the prefill kernels with this config (triton_prefill.launch_prefill, tokens "
                         "sorted by slot) instead of the op's choice; CUDA only")  # fmt: skip
    ap.add_argument("--decode-config", type=json.loads, default=None,
                    help="JSON: launch the decode kernels with this config (triton_decode.launch_decode) instead of "
                         "the op's choice; CUDA only")  # fmt: skip
    args = ap.parse_args(argv)
    if args.device == "cpu" and (args.prefill_config is not None or args.decode_config is not None):
        ap.error("--prefill-config and --decode-config launch Triton kernels: CUDA only")
    device = torch.device(args.device)
    x, codes, pool, slots = make_case(args.m, args.n, args.k, args.gpr, args.tasks, device)
    for call in ("warm-up", "profiled"):
        # the public op: the Triton path on CUDA (the server's), the torch reference on CPU tensors on any machine
        if args.prefill_config is not None:
            y = torch.empty(args.m, args.n, dtype=x.dtype, device=device)
            perm, slot_sorted = sort_tokens_by_slot(slots)
            launch_prefill(x, codes, pool, slot_sorted, perm, BITS, y, args.prefill_config)
        elif args.decode_config is not None:
            y = torch.empty(args.m, args.n, dtype=x.dtype, device=device)
            launch_decode(x, codes, pool, slots, BITS, y, args.decode_config)
        else:
            y = lut_linear(x, codes, pool, slots, BITS, args.gpr, check_slot_range=False, num_tasks=args.tasks)
        if device.type == "cuda":
            torch.cuda.synchronize()
        print(f"{call} call: y {tuple(y.shape)} {y.dtype}, finite {bool(torch.isfinite(y).all())}", flush=True)
    if device.type == "cuda":
        key = _shape_key(x, codes, pool, BITS, _m_bucket(args.m))
        entries = [autotune._entry(kernel, key) for kernel in ("decode", "decode_few", "bucket", "prefill")]
        chosen = {e: autotune._MEMORY[e] for e in entries if e in autotune._MEMORY}
        print(f"choices for this shape and token bucket: {chosen}")


if __name__ == "__main__":
    main()
