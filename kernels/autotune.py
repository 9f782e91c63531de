"""Pick a kernel configuration per shape by timing a short candidate list once, cached per GPU name.

    ~/.cache/sketchserve/autotune/<gpu name>.v<CACHE_VERSION>.json   {"<kernel>|<key>": {config}, ...}

The first call for a new key times each candidate (a handful, ~20 ms each plus compilation) as the server runs
it, replayed from a CUDA graph with a cold L2 (kernels/timing.py: eager timing measured the host); later
calls, in this process or the next, read the cache. No timing happens (the heuristic default is used)
on the CPU interpreter, during CUDA-graph capture, or with SKETCHSERVE_AUTOTUNE=0. Tune before
capturing graphs (the server's warm-up does one call per shape).
Choices measured on the GPUs the project was benchmarked on ship with the package (kernels/tuned/<same file
name>): they are read first and the user's cache over them, so such a GPU's first start tunes only the shapes they
lack.
Environment: SKETCHSERVE_AUTOTUNE=0 disables timing; SKETCHSERVE_CACHE moves the cache (with the models and sketches);
SKETCHSERVE_SHIPPED_TUNING=0 ignores the shipped choices (every shape tunes on this machine);
SKETCHSERVE_AUTOTUNE_TRIALS=<file> appends every timed candidate's outcome there, one JSON line each ({"entry",
"config", and "ms", "failed" (the exception's first line: no compile, out of shared memory...) or "disagrees"}):
why a shape took the choice it did, on a machine where only the choice is kept.
Inside kernels.compile_ahead, a shape without a choice launches every candidate once (each launch only compiles,
on a pool of threads) and times none: the warm-up's real pass after it times them compiled.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from kernels.compile_ahead import compiling_only
from kernels.timing import graph_time_ms as time_ms
from kernels.triton_common import interpreting

log = logging.getLogger(__name__)

_MEMORY: dict[str, dict] = {}  # "<kernel>|<key>" -> config, from timing or the disk cache
_FAST: dict[tuple, dict] = {}  # (kernel, key tuple) -> config: the per-call lookup, no string building
_LOADED: set[Path] = set()
_SMS: dict[torch.device, int] = {}
_STATS = {"keys": 0, "candidates": 0, "seconds": 0.0}  # what tuning has cost this process (tuning_stats)


def tuning_stats() -> dict:
    """Shapes tuned in this process, candidates timed (compiles included) and the seconds it took: the cost of a
    first start on a GPU whose choices are not cached yet."""
    return dict(_STATS)


def gpu_name(device: torch.device | None = None) -> str:
    if not torch.cuda.is_available():
        return "cpu"
    return torch.cuda.get_device_name(device)


def num_sms(device: torch.device) -> int:
    """Multiprocessor count (4 on the CPU interpreter), cached: it sizes split-K on every call."""
    sms = _SMS.get(device)
    if sms is None:
        sms = torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 4
        _SMS[device] = sms
    return sms


# Bumped when the timing method or the candidate lists change, so that no choice made the old way, or among
# candidates no longer offered (or without new ones), is reused: 2: CUDA-graph timing; 3: the lists pruned to the
# H200's picks and the bucket kernel's QUADS order added (2026-11-30); 4: the one-token kernel's fp16 products
# (HALF2) offered (2026-12-01); 5: its register-prefetch configs; 6: the fragment kernel (MODE_MMA) offered up to
# 16 tokens (both 2026-12-01, fifteenth session; the shipped one-token choices were kept: the fragment kernel was
# slower at one token in that session's grid, results/mma_grid_first_h200.log); 7: the one-token kernel's X_VEC
# configs under HALF2 (2026-12-01, sixteenth session; the shipped multi-token choices kept); 8: the 2-4-token
# register-LUT kernel offered at 2 tokens (twenty-first session; the shipped choices kept, the three 2-token shapes
# where its grid beat them replaced: results/prmt_tokens_grid_gpr{1,4}_h200.log).
CACHE_VERSION = 8


def cache_path(device: torch.device | None = None) -> Path:
    root = Path(os.environ.get("SKETCHSERVE_CACHE", Path.home() / ".cache" / "sketchserve")) / "autotune"
    return root / (re.sub(r"[^A-Za-z0-9._-]+", "_", gpu_name(device)) + f".v{CACHE_VERSION}.json")


def _entry(kernel: str, key: tuple) -> str:
    return kernel + "|" + ",".join(str(k) for k in key)


SHIPPED_DIR = Path(__file__).resolve().parent / "tuned"  # choices measured on the lent GPUs (benchmarks/NOTES.md)


def _load(path: Path) -> None:
    """The shipped choices for path's GPU (unless SKETCHSERVE_SHIPPED_TUNING=0), then the user's cache over them."""
    if path in _LOADED:
        return
    _LOADED.add(path)
    files = [path]
    if os.environ.get("SKETCHSERVE_SHIPPED_TUNING", "1") != "0":
        files.insert(0, SHIPPED_DIR / path.name)
    for file in files:
        try:
            _MEMORY.update(json.loads(file.read_text()))
        except (OSError, ValueError):
            pass  # none yet, or a damaged one: those shapes re-tune


def _save(path: Path, entry: str, config: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            on_disk = json.loads(path.read_text())
        except (OSError, ValueError):
            on_disk = {}
        on_disk[entry] = config
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(on_disk, f, indent=1, sort_keys=True)
        os.replace(tmp, path)  # atomic: concurrent processes never see half a file
    except OSError:
        pass  # read-only home: keep the in-memory choice


def tuning_enabled(device: torch.device) -> bool:
    if device.type != "cuda" or interpreting() or os.environ.get("SKETCHSERVE_AUTOTUNE", "1") == "0":
        return False
    return not torch.cuda.is_current_stream_capturing()


def agrees(output: torch.Tensor, reference: torch.Tensor, rtol: float = 1e-2) -> bool:
    """Written where the reference was written and nowhere else (both launches started from a NaN-filled output:
    a launch may leave rows to another path, as segment tiles leave a step's decode rows), and there within rtol
    (relative Frobenius norm) of the reference: configs only reorder fp32 sums."""
    out = output.float()
    written = torch.isfinite(reference)
    if not torch.equal(torch.isfinite(out), written):
        return False
    return (out[written] - reference[written]).norm().item() <= rtol * reference[written].norm().item() + 1e-6


class _Trials:
    """One tuning's candidate outcomes, appended as JSON lines to $SKETCHSERVE_AUTOTUNE_TRIALS (nothing kept unset)."""

    def __init__(self, entry: str) -> None:
        self.path = os.environ.get("SKETCHSERVE_AUTOTUNE_TRIALS")
        self.entry, self.lines = entry, []

    def add(self, config: dict, **outcome: object) -> None:
        if self.path:
            self.lines.append(json.dumps({"entry": self.entry, "config": config, **outcome}, default=str))

    def write(self) -> None:
        if self.path and self.lines:
            with open(self.path, "a") as f:
                f.write("\n".join(self.lines) + "\n")


def pick_config(
    kernel: str,
    key: tuple,
    candidates: Callable[[], list[dict]],
    launch: Callable[[dict], None],
    default: Callable[[], dict],
    device: torch.device,
    output: torch.Tensor | None = None,
) -> dict:
    """The cached best config for (kernel, key), timing `launch(config)` for each candidate on a miss.

    candidates and default are called only on a miss (the hit path is one dict lookup: it runs per call).
    output: the tensor launch writes; when given, a candidate whose result differs from the default config's
    (a miscompiled or broken variant on this GPU and Triton) is dropped with a warning instead of timed in. It is
    filled with NaN before each launch, so the rows a launch leaves to another path are compared as unwritten
    rather than as whatever the buffer held (H200, thirtieth session: garbage there once dropped every candidate).
    """
    hit = _FAST.get((kernel, key))
    if hit is not None:
        return hit
    path = cache_path(device) if device.type == "cuda" else None
    entry = _entry(kernel, key)
    if path is not None:
        _load(path)
    if entry in _MEMORY:
        _FAST[(kernel, key)] = _MEMORY[entry]
        return _MEMORY[entry]
    if not tuning_enabled(device):
        return default()
    if compiling_only():  # kernels.compile_ahead: every candidate's compile submitted; the real pass times them
        for config in [default(), *candidates()]:
            try:
                launch(config)
            except Exception:  # noqa: BLE001 - as in the timing loop below: the real pass skips it
                pass
        return default()

    t0 = time.perf_counter()
    best, best_ms = default(), float("inf")
    reference = None
    if output is not None:  # NaN first: the rows a launch leaves alone stay NaN, whatever the buffer held
        output.fill_(float("nan"))
        launch(best)
        reference = output.float().clone()
    configs = candidates()
    trials = _Trials(entry)
    for config in configs:
        if output is not None:
            output.fill_(float("nan"))
        try:
            ms = time_ms(lambda c=config: launch(c))
        except Exception as error:  # e.g. out of shared memory or registers on this GPU, or not capturable: skip it
            trials.add(config, failed=(str(error).strip().splitlines() or [type(error).__name__])[0][:300])
            continue
        if reference is not None and not agrees(output, reference):
            log.warning("autotune %s: candidate %s disagrees with the default config; dropped", kernel, config)
            trials.add(config, disagrees=True)
            continue
        trials.add(config, ms=ms)
        if ms < best_ms:
            best, best_ms = config, ms
    trials.write()
    _MEMORY[entry] = best
    _FAST[(kernel, key)] = best
    _save(path, entry, best)
    seconds = time.perf_counter() - t0
    _STATS["keys"] += 1
    _STATS["candidates"] += len(configs)
    _STATS["seconds"] += seconds
    log.info("autotune %s %s: %d candidates in %.1f s -> %s", kernel, key, len(configs), seconds, best)
    return best
