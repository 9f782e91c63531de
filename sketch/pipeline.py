"""Whole jobs built from the parts: load a model, calibrate, sketch, write a sketched base directory.

`ensure_sketch(spec)` is what `sketchserve serve --model default|HF_DIR|FILE.gguf` and the real-model tests use:
the model (the embedded SmolLM2-135M-Instruct for 'default'), sketched once with data-free calibration and cached
under

    $SKETCHSERVE_CACHE (default ~/.cache/sketchserve) / sketches / <name>-b{bits}g{gpr}-<hash of source + settings> /
        config.json  sketch.safetensors  tokenizer files

The source's part of the hash: the GGUF file's sha256 (through its cached conversion), or for a Hugging Face
directory its resolved path and each top-level file's name, size and modification time, so a model written again
in place is sketched again. The directory appears atomically (built in a temporary directory, then renamed) and a
lock file makes a second process wait for the first one's result instead of sketching again. Later calls return at
once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from sketch.calibration import CalibrationConfig, calibration_tokens
from sketch.format import SKETCH_FILE, save_sketched_base
from sketch.models import atomic_directory, cache_root, file_lock, resolve_model_dir, resolve_model_source
from sketch.sketcher import SketchOptions, sketch_model

# Bump when a change to the algorithm should invalidate cached sketches.
ALGORITHM_VERSION = 1
# Calibration of the cached sketches (data-free): the default model's first start takes a few minutes on a 2-core CPU.
DEFAULT_CALIBRATION = CalibrationConfig(path=None, n_samples=64, seq_len=256, seed=0)
# The cache entry's name for the embedded model (the source part of its key is its GGUF's sha256).
DEFAULT_SKETCH_NAME = "smollm2-135m-instruct"


def build_sketch(
    model_spec: str,
    out_dir: str | os.PathLike,
    options: SketchOptions,
    calibration: CalibrationConfig,
    device: str | None = None,
    dense_dtype: torch.dtype = torch.float16,
    calibration_ids: torch.Tensor | None = None,
    progress: bool = True,
) -> Path:
    """Sketch `model_spec` ('default' | HF dir | .gguf) into `out_dir` (written atomically), tokenizer included."""
    t0 = time.perf_counter()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, tokenizer, source = resolve_model_source(model_spec, device=device)
    if calibration_ids is None and options.method != "naive":
        calibration_ids = calibration_tokens(model, tokenizer, calibration)
    base = sketch_model(
        model,
        calibration_ids,
        options,
        device=device,
        dense_dtype=dense_dtype,
        source_model=source,
        calibration_info=calibration.describe() if options.method != "naive" else {"source": "none"},
        progress=progress,
    )
    base.sketch_config["total_seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(out_dir).expanduser()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    if out.exists():
        out.rmdir()
    with atomic_directory(out) as tmp:
        save_sketched_base(base, tmp)
        tokenizer.save_pretrained(str(tmp))
    return out


def sketch_cache_dir(model_spec: str = "default", bits: int = 4, gpr: int = 4, **opts) -> Path:
    """Where ensure_sketch keeps the sketch of `model_spec` for these settings (it may not exist yet)."""
    options, calibration = _default_settings(bits, gpr, opts)
    name, identity = _source_identity(model_spec)
    key = json.dumps(
        {"model": identity, "v": ALGORITHM_VERSION, "options": asdict(options), "calib": asdict(calibration)},
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_root() / "sketches" / f"{name}-b{bits}g{gpr}-{digest}"


def default_sketch_dir(bits: int = 4, gpr: int = 4, **opts) -> Path:
    """Where ensure_default_sketch keeps the embedded model's sketch for these settings."""
    return sketch_cache_dir("default", bits, gpr, **opts)


def ensure_sketch(model_spec: str = "default", bits: int = 4, gpr: int = 4, **opts) -> Path:
    """The sketched base directory of `model_spec` ('default' | HF directory | .gguf file), sketched on the first
    call with data-free calibration, then cached.

    opts: any SketchOptions field (emphasis, damp, method, ...) and n_samples / seq_len / seed of the
    data-free calibration. Safe to call from several processes at once (file lock + atomic rename).
    """
    final = sketch_cache_dir(model_spec, bits, gpr, **opts)
    if (final / SKETCH_FILE).exists():
        return final
    options, calibration = _default_settings(bits, gpr, opts)
    with file_lock(final.parent / f"{final.name}.lock"):
        if (final / SKETCH_FILE).exists():  # another process finished it while we waited
            return final
        for stale in final.parent.glob(f".tmp-{final.name}-*"):  # left by a killed run (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        what = "the default model" if model_spec == "default" else model_spec
        print(f"sketching {what} ({bits}-bit, gpr={gpr}) into {final} (once)", flush=True)
        build_sketch(model_spec, final, options, calibration)
    return final


def ensure_default_sketch(bits: int = 4, gpr: int = 4, **opts) -> Path:
    """The sketched base directory of the embedded default model (ensure_sketch("default", ...))."""
    return ensure_sketch("default", bits, gpr, **opts)


def sketched_base_dir(spec: str, bits: int = 4, gpr: int = 4) -> Path:
    """A sketched base directory as it is; 'default' (the embedded model), a Hugging Face directory or a .gguf file
    -> its cached sketch at these bits and gpr, made on first use (ensure_sketch). What `serve --model` and
    `finetune --base` take."""
    path = Path(spec).expanduser()
    if spec != "default" and (path / SKETCH_FILE).exists():
        return path
    if spec == "default" or path.suffix == ".gguf" and path.is_file() or (path / "config.json").is_file():
        return ensure_sketch(spec if spec == "default" else str(path), bits=bits, gpr=gpr)
    raise FileNotFoundError(
        f"{path} is neither a sketched base directory ({SKETCH_FILE}), a Hugging Face model directory "
        f"(config.json) nor a .gguf file"
    )


def _source_identity(model_spec: str) -> tuple[str, str]:
    """(a readable name for the cache entry, what identifies the source's weights) of a model spec."""
    hf_dir, _ = resolve_model_dir(model_spec)  # a GGUF (the default too) is converted once; its name holds its sha256
    if model_spec == "default":
        return DEFAULT_SKETCH_NAME, hf_dir.name
    if Path(model_spec).suffix == ".gguf":
        return _slug(Path(model_spec).stem), hf_dir.name
    path = hf_dir.resolve()
    files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in path.iterdir() if f.is_file())
    return _slug(path.name), json.dumps({"path": str(path), "files": files})


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.") or "model"


def _default_settings(bits: int, gpr: int, opts: dict) -> tuple[SketchOptions, CalibrationConfig]:
    calib_keys = {"n_samples", "seq_len", "seed"}
    unknown = set(opts) - calib_keys - set(SketchOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown sketch options: {sorted(unknown)}")
    calibration = replace(DEFAULT_CALIBRATION, **{k: v for k, v in opts.items() if k in calib_keys})
    options = SketchOptions(bits=bits, gpr=gpr, **{k: v for k, v in opts.items() if k not in calib_keys})
    return options, calibration
