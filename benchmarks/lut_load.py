"""Where a cold task's LUT load goes: disk -> checks -> CPU tier -> pool slot, phase by phase.

    python3 benchmarks/lut_load.py --out OUT_DIR [--gpr 1] [--tasks 6] [--layers 32] [--device cuda] [--tiny]

bench_serving.py reports ~0.23 s from a miss to a ready slot for a Llama-2-7B-shaped LUT set at gpr 1 (43.5 MB of
fp16) on the H200 machine. Here, on a random base of that shape: each phase timed alone over the stored tasks'
files (the file's SHA-256 on one thread, the store's check of it: its chunks' on several, load_task_lut with its
checks and without the values' pass, staging into a new host buffer, pinned on CUDA, the copy into a slot), then
the pool's own loads end to end (acquire -> ready, checksums verified as the engine does: beside the parse and
staging), once the pool has pinned its CPU tier's buffers ahead (pin_ahead_s, on CUDA). distance_s: the pool's
measure of the set's distance from the base's (LutPool.lut_distance, in the int8 activation mode after a version's
first copy into a slot). --tiny: a small model's shape (the script's test).
Writes OUT_DIR/lut_load_gpr{G}_{device}.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serving import fill_store, random_base  # noqa: E402

from adapters.pool import LutPool, stage_lut_set  # noqa: E402
from adapters.store import LutStore  # noqa: E402
from sketch.models import file_sha256  # noqa: E402
from sketch.synthetic import llama2_7b_config, llama_config  # noqa: E402
from sketch.task_lut import load_task_lut  # noqa: E402


def timed(fn, reps: int) -> tuple[float, object]:
    """Median seconds of reps calls of fn, and its last result."""
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gpr", type=int, default=1)
    ap.add_argument("--tasks", type=int, default=6)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    config = (llama_config(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=args.layers,
                           num_attention_heads=4, num_key_value_heads=2)
              if args.tiny else llama2_7b_config(num_hidden_layers=args.layers))  # fmt: skip
    base = random_base(config, args.gpr, device)
    work = Path(tempfile.mkdtemp(prefix="lut-load-"))
    store = LutStore(work / "store", base.spec(), verify_on_open=False)
    tasks = [f"task{i}" for i in range(args.tasks)]
    fill_store(base, store, tasks, work)
    paths = [store.path(task, store.latest(task).version) for task in tasks]
    out: dict = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "gpr": args.gpr,
                 "layers": args.layers, "file_bytes": paths[0].stat().st_size}  # fmt: skip
    reps = len(paths)
    it = iter(paths * 3)
    out["sha256_s"], _ = timed(lambda: file_sha256(next(it)), reps)
    it = iter([(task, store.latest(task).version) for task in tasks] * 3)  # the store's check: chunks on threads
    out["store_verify_s"], _ = timed(lambda: store.verify(*next(it)), reps)
    it = iter(paths * 3)
    out["load_task_lut_s"], task_lut = timed(lambda: load_task_lut(next(it), base.spec()), reps)
    it = iter(paths * 3)  # as the pool loads a verified file: no pass over the values
    out["load_task_lut_verified_s"], _ = timed(lambda: load_task_lut(next(it), base.spec(), check_values=False), reps)
    pin = device.type == "cuda"

    def stage() -> dict[str, torch.Tensor]:  # as the pool stages a set into a new host buffer
        numel = sum(task_lut.luts[name].numel() for name in base.layer_names)
        return stage_lut_set(task_lut.luts, base.layer_names, torch.empty(numel, dtype=dtype, pin_memory=pin))

    out["stage_s"], staged = timed(stage, reps)
    pool = LutPool(base, None, 2, device, dtype, measure_distance=True)

    def copy() -> None:
        for name, t in staged.items():
            pool.lut_pools[name][1].copy_(t, non_blocking=pin)
        if pin:
            torch.cuda.synchronize()

    out["copy_s"], _ = timed(copy, reps)
    out["distance_s"], out["distance"] = timed(lambda: pool.lut_distance(1), reps)  # the set's from the base's
    pool.close()
    pool = LutPool(base, store, args.tasks + 1, device, dtype, verify_checksums=True)
    t0 = time.perf_counter()  # a server up for a moment: the loader has pinned the tier's buffers ahead (on CUDA)
    while pool.pin_ahead and len(pool._spare_buffers) < pool.max_host_buffers and time.perf_counter() - t0 < 10:
        time.sleep(0.001)
    out["pin_ahead_s"], out["host_buffers_ahead"] = time.perf_counter() - t0, len(pool._spare_buffers)
    loads = []
    for task in tasks:
        key = (task, store.latest(task).version)
        t0 = time.perf_counter()
        while pool.acquire(key) is None:
            time.sleep(0.0005)
        loads.append(time.perf_counter() - t0)
        pool.release(key)
    pool.close()
    out["pool_load_s"] = loads
    print(json.dumps(out, indent=1), flush=True)
    (args.out / f"lut_load_gpr{args.gpr}_{device.type}.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
