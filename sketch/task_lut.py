"""On-disk format of a task LUT: the one place that writes, reads and validates it.

A task LUT is one safetensors file (never pickle):
    tensors   "L.lut"  [N, gpr, 2**bits] for every sketched projection L of the base (same names as the base)
    metadata  format, format_version, task, base_fingerprint, bits, gpr, dtype, training (JSON summary)

Reading is defensive, because uploads are hostile input: the 8-byte header length, the JSON header, every
tensor's dtype, shape and byte range are checked before any tensor is materialised, and values must be finite.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from sketch.format import BaseSpec, atomic_save_safetensors

TASK_FORMAT = "sketchserve.task_lut"
TASK_FORMAT_VERSION = 1
MAX_HEADER_BYTES = 16 << 20  # a header past 16 MiB is not a LUT file (a 7B LUT set's header is ~50 KB)
LUT_DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}
_DTYPE_NAMES = {torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float32: "float32"}
_ELEMENT_BYTES = {"F16": 2, "BF16": 2, "F32": 4}


class TaskLutError(ValueError):
    """A task LUT file is malformed, or does not fit the base it is meant for. The message says why."""


@dataclass
class TaskLut:
    task: str
    luts: dict[str, torch.Tensor]  # L -> [N, gpr, 2**bits]
    base_fingerprint: str
    bits: int
    gpr: int
    training: dict = field(default_factory=dict)

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.luts.values())).dtype

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.luts.values())


def save_task_lut(task_lut: TaskLut, path: str | os.PathLike) -> Path:
    """Write atomically (temp file + fsync + rename): a reader sees the old file or the new one."""
    dtypes = {t.dtype for t in task_lut.luts.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _DTYPE_NAMES:
        raise TaskLutError(f"all LUTs must share one of {list(_DTYPE_NAMES.values())}, got {dtypes}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"{name}.lut": t.detach().to("cpu").contiguous() for name, t in task_lut.luts.items()}
    metadata = {
        "format": TASK_FORMAT,
        "format_version": str(TASK_FORMAT_VERSION),
        "task": task_lut.task,
        "base_fingerprint": task_lut.base_fingerprint,
        "bits": str(task_lut.bits),
        "gpr": str(task_lut.gpr),
        "dtype": _DTYPE_NAMES[next(iter(dtypes))],
        "training": json.dumps(task_lut.training),
    }
    atomic_save_safetensors(tensors, metadata, out)
    return out


def read_header(path: str | os.PathLike) -> tuple[dict, dict[str, str], int]:
    """Parse and check a safetensors header without reading tensor data.

    Returns (tensor entries {name: {dtype, shape, data_offsets}}, metadata, data start offset).
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise TaskLutError("not a safetensors file: shorter than its 8-byte header length")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
            raise TaskLutError(f"not a safetensors file (or truncated): header claims {header_len} bytes")
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TaskLutError(f"not a safetensors file: header is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise TaskLutError("not a safetensors file: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise TaskLutError("safetensors metadata must map strings to strings")
    data_start = 8 + header_len
    data_len = size - data_start
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise TaskLutError(f"tensor {name!r}: malformed header entry")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in LUT_DTYPES:
            raise TaskLutError(f"tensor {name!r}: dtype {dtype} is not one of {sorted(LUT_DTYPES)}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise TaskLutError(f"tensor {name!r}: malformed shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise TaskLutError(f"tensor {name!r}: malformed data_offsets {offsets!r}")
        begin, end = offsets
        numel = 1
        for d in shape:
            numel *= d
        if not (0 <= begin <= end <= data_len) or end - begin != numel * _ELEMENT_BYTES[dtype]:
            raise TaskLutError(f"tensor {name!r}: byte range {offsets} does not fit the file or its shape")
    return header, metadata, data_start


def load_task_lut(path: str | os.PathLike, spec: BaseSpec | None = None, check_values: bool = True) -> TaskLut:
    """Read a task LUT file; with `spec`, also check it against that base (see validate_task_lut). check_values=False
    skips the pass over every value (NaN / Inf): for a file whose checksum the caller matched to that of a file that
    passed it (a store's verified version), where it was ~40 % of a 7B set's load."""
    header, meta, _ = read_header(path)
    if meta.get("format") != TASK_FORMAT:
        raise TaskLutError(f"not a sketchserve task LUT (format={meta.get('format')!r})")
    try:
        version = int(meta.get("format_version", "0"))
        bits, gpr = int(meta["bits"]), int(meta["gpr"])
        fingerprint, task = meta["base_fingerprint"], meta.get("task", "")
        training = json.loads(meta.get("training", "{}"))
    except (KeyError, ValueError) as e:
        raise TaskLutError(f"task LUT metadata is incomplete or malformed: {e}") from e
    if version > TASK_FORMAT_VERSION:
        raise TaskLutError(f"task LUT format version {version} is newer than supported ({TASK_FORMAT_VERSION})")
    names = [k for k in header]
    if not names or not all(k.endswith(".lut") for k in names):
        raise TaskLutError("a task LUT holds only '<layer>.lut' tensors, and at least one")
    if spec is not None:
        _check_header_against(header, meta, bits, gpr, fingerprint, spec)
    luts: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            for key in names:
                luts[key.removesuffix(".lut")] = f.get_tensor(key)
    except Exception as e:  # the header was checked; anything else is a damaged file
        raise TaskLutError(f"task LUT data is unreadable: {e}") from e
    task_lut = TaskLut(task, luts, fingerprint, bits, gpr, training)
    for name, t in luts.items() if check_values else ():
        if not torch.isfinite(t).all():
            raise TaskLutError(f"layer {name}: LUT has NaN or Inf values")
    return task_lut


def _check_header_against(header: dict, meta: dict, bits: int, gpr: int, fingerprint: str, spec: BaseSpec) -> None:
    if fingerprint != spec.fingerprint:
        raise TaskLutError(
            f"task LUT was made for base {fingerprint[:12]}..., this base is {spec.fingerprint[:12]}..."
        )
    if (bits, gpr) != (spec.bits, spec.gpr):
        raise TaskLutError(f"task LUT is bits={bits} gpr={gpr}; the base is bits={spec.bits} gpr={spec.gpr}")
    have = {k.removesuffix(".lut") for k in header}
    want = set(spec.layer_shapes)
    if have != want:
        missing, extra = sorted(want - have), sorted(have - want)
        raise TaskLutError(f"task LUT layers differ from the base: missing {missing[:3]}, unexpected {extra[:3]}")
    for name in want:
        shape = tuple(header[f"{name}.lut"]["shape"])
        if shape != spec.lut_shape(name):
            raise TaskLutError(f"layer {name}: LUT shape {shape}, the base needs {spec.lut_shape(name)}")


def validate_task_lut(task_lut: TaskLut, spec: BaseSpec) -> None:
    """Raise TaskLutError unless task_lut fits the base: fingerprint, bits, gpr, layer set, shapes, finite."""
    header = {f"{k}.lut": {"shape": list(v.shape)} for k, v in task_lut.luts.items()}
    _check_header_against(header, {}, task_lut.bits, task_lut.gpr, task_lut.base_fingerprint, spec)
    for name, t in task_lut.luts.items():
        if t.dtype not in _DTYPE_NAMES:
            raise TaskLutError(f"layer {name}: dtype {t.dtype} is not a LUT dtype")
        if not torch.isfinite(t).all():
            raise TaskLutError(f"layer {name}: LUT has NaN or Inf values")
