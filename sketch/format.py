"""On-disk format of a sketched base: the one place that writes and reads it.

A sketched base is a directory:

    config.json            the Hugging Face model config (architecture, dims, rope, ...)
    tokenizer files        whatever tokenizer.save_pretrained writes
    sketch.safetensors     for each sketched projection L (e.g. "model.layers.0.self_attn.q_proj"):
                             "L.codes"  uint8 [N, packed_width(K, bits)]   (layout: kernels/packing.py)
                             "L.lut"    [N, gpr, 2**bits]                   the base LUT
                           every other tensor under its Hugging Face name (embeddings, norms, lm_head, biases)
                           metadata (all strings): format, format_version, bits, gpr, packing,
                             source_model, fingerprint, lut_dtype, sketched_layers (JSON {L: [N, K]}),
                             sketch_config (JSON: calibration and algorithm settings)

The fingerprint is the sha256 of the codes of every sketched layer (names, shapes, bits, gpr and bytes, in
sorted name order): a task LUT names it, and is only valid against a base with the same mapping.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from kernels.packing import SUPPORTED_BITS, packed_width

FORMAT_NAME = "sketchserve.sketch"
FORMAT_VERSION = 1
SKETCH_FILE = "sketch.safetensors"
PACKING = "uint8 row-major along K; bits 3/4: 2 per byte, low nibble = even column; bits 2: 4 per byte"

# The projections of a Llama-family decoder block that are sketched, in forward order.
SKETCHED_PROJECTIONS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


class SketchFormatError(ValueError):
    """A sketched base directory or file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class BaseSpec:
    """What a task LUT must match to be served on a base: everything but the tensors."""

    fingerprint: str
    bits: int
    gpr: int
    layer_shapes: dict[str, tuple[int, int]]  # L -> (N, K)

    def lut_shape(self, layer: str) -> tuple[int, int, int]:
        n, _ = self.layer_shapes[layer]
        return (n, self.gpr, 2**self.bits)


@dataclass
class SketchedBase:
    """A sketched model in memory. codes/luts are keyed by projection name (no suffix)."""

    config: dict
    bits: int
    gpr: int
    codes: dict[str, torch.Tensor]  # L -> uint8 [N, packed K]
    luts: dict[str, torch.Tensor]  # L -> [N, gpr, 2**bits]
    layer_shapes: dict[str, tuple[int, int]]  # L -> (N, K)
    dense: dict[str, torch.Tensor]  # every non-sketched tensor, by HF name
    source_model: str = ""
    sketch_config: dict = field(default_factory=dict)
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = compute_fingerprint(self.codes, self.layer_shapes, self.bits, self.gpr)

    @property
    def layer_names(self) -> list[str]:
        """Sketched projections in model order (layer index, then SKETCHED_PROJECTIONS order)."""
        return sorted(self.codes, key=projection_sort_key)

    def spec(self) -> BaseSpec:
        return BaseSpec(self.fingerprint, self.bits, self.gpr, dict(self.layer_shapes))

    def lut_bytes(self) -> int:
        """Bytes of one full LUT set (one task) at the stored dtype."""
        return sum(t.numel() * t.element_size() for t in self.luts.values())

    def codes_bytes(self) -> int:
        return sum(t.numel() for t in self.codes.values())


def projection_sort_key(name: str) -> tuple[int, int, str]:
    """Sort 'model.layers.{i}.{proj}' by layer index, then forward order of the projection."""
    parts = name.split(".")
    layer = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else -1
    proj = ".".join(parts[3:])
    order = SKETCHED_PROJECTIONS.index(proj) if proj in SKETCHED_PROJECTIONS else len(SKETCHED_PROJECTIONS)
    return (layer, order, name)


def compute_fingerprint(
    codes: dict[str, torch.Tensor], layer_shapes: dict[str, tuple[int, int]], bits: int, gpr: int
) -> str:
    h = hashlib.sha256()
    h.update(f"{FORMAT_NAME}/v{FORMAT_VERSION} bits={bits} gpr={gpr}\n".encode())
    for name in sorted(codes):
        n, k = layer_shapes[name]
        h.update(f"{name} {n} {k}\n".encode())
        h.update(codes[name].detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def atomic_save_safetensors(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """Write a safetensors file atomically (temp file in the same folder + fsync + rename): a reader sees the old file
    or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_sketched_base(base: SketchedBase, out_dir: str | os.PathLike) -> Path:
    """Write config.json and sketch.safetensors into out_dir (tokenizer files are the caller's)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name in base.layer_names:
        tensors[f"{name}.codes"] = base.codes[name].detach().to("cpu").contiguous()
        tensors[f"{name}.lut"] = base.luts[name].detach().to("cpu").contiguous()
    for name, t in base.dense.items():
        if name in tensors:
            raise SketchFormatError(f"dense tensor {name!r} collides with a sketched tensor name")
        tensors[name] = t.detach().to("cpu").contiguous()
    lut_dtype = str(next(iter(base.luts.values())).dtype).removeprefix("torch.") if base.luts else "float16"
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "bits": str(base.bits),
        "gpr": str(base.gpr),
        "packing": PACKING,
        "source_model": base.source_model,
        "fingerprint": base.fingerprint,
        "lut_dtype": lut_dtype,
        "sketched_layers": json.dumps({k: list(v) for k, v in base.layer_shapes.items()}),
        "sketch_config": json.dumps(base.sketch_config),
    }
    atomic_save_safetensors(tensors, metadata, out / SKETCH_FILE)
    with open(out / "config.json", "w") as f:
        json.dump(base.config, f, indent=2, sort_keys=True)
    return out


def read_sketch_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a sketched base directory (or of its sketch.safetensors), checked for format."""
    p = Path(path)
    file = p / SKETCH_FILE if p.is_dir() else p
    if not file.exists():
        raise SketchFormatError(f"{file} does not exist: not a sketched base directory")
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for malformed headers
        raise SketchFormatError(f"{file} is not a readable safetensors file: {e}") from e
    if meta.get("format") != FORMAT_NAME:
        raise SketchFormatError(f"{file} is not a sketchserve sketch (format={meta.get('format')!r})")
    if int(meta.get("format_version", "0")) > FORMAT_VERSION:
        raise SketchFormatError(f"{file} has format version {meta['format_version']}, newer than supported")
    return meta


def load_sketched_base(path: str | os.PathLike, device: torch.device | str = "cpu") -> SketchedBase:
    """Read a sketched base directory written by save_sketched_base; verifies the fingerprint."""
    p = Path(path)
    meta = read_sketch_metadata(p)
    config_file = p / "config.json"
    if not config_file.exists():
        raise SketchFormatError(f"{config_file} is missing")
    config = json.loads(config_file.read_text())
    bits, gpr = int(meta["bits"]), int(meta["gpr"])
    if bits not in SUPPORTED_BITS:
        raise SketchFormatError(f"unsupported bits={bits}")
    layer_shapes = {k: (int(v[0]), int(v[1])) for k, v in json.loads(meta["sketched_layers"]).items()}
    codes: dict[str, torch.Tensor] = {}
    luts: dict[str, torch.Tensor] = {}
    dense: dict[str, torch.Tensor] = {}
    with safe_open(str(p / SKETCH_FILE), framework="pt", device=str(device)) as f:
        keys = set(f.keys())
        for name, (n, k) in layer_shapes.items():
            for suffix in ("codes", "lut"):
                if f"{name}.{suffix}" not in keys:
                    raise SketchFormatError(f"{SKETCH_FILE} lacks {name}.{suffix}")
            c = f.get_tensor(f"{name}.codes")
            lut = f.get_tensor(f"{name}.lut")
            if c.dtype != torch.uint8 or tuple(c.shape) != (n, packed_width(k, bits)):
                raise SketchFormatError(f"{name}.codes has shape {tuple(c.shape)} dtype {c.dtype}")
            if tuple(lut.shape) != (n, gpr, 2**bits):
                raise SketchFormatError(f"{name}.lut has shape {tuple(lut.shape)}, want {(n, gpr, 2**bits)}")
            codes[name], luts[name] = c, lut
        sketched_keys = {f"{n}.{s}" for n in layer_shapes for s in ("codes", "lut")}
        for key in sorted(keys - sketched_keys):
            dense[key] = f.get_tensor(key)
    base = SketchedBase(
        config=config,
        bits=bits,
        gpr=gpr,
        codes=codes,
        luts=luts,
        layer_shapes=layer_shapes,
        dense=dense,
        source_model=meta.get("source_model", ""),
        sketch_config=json.loads(meta.get("sketch_config", "{}")),
        fingerprint=meta["fingerprint"],
    )
    actual = compute_fingerprint(codes, layer_shapes, bits, gpr)
    if actual != meta["fingerprint"]:
        raise SketchFormatError(f"{p}: codes do not match the recorded fingerprint (corrupt file?)")
    return base
