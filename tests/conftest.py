"""Shared test fixtures. Tests run on the CPU by default; `gpu`-marked tests need CUDA.

Without CUDA, Triton kernels run through Triton's CPU interpreter. TRITON_INTERPRET must be set before any
@triton.jit kernel module is imported, by whichever test module comes first: so here, before collection.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
TASKS_DIR = REPO_ROOT.parent / "shared" / "data" / "tasks"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (benchmarks/ is scripts, not a package), for tests that keep it runnable."""
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def tasks_dir() -> Path:
    if not TASKS_DIR.exists():
        pytest.fail(f"task datasets not found at {TASKS_DIR}")
    return TASKS_DIR


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Two cores on CI: keep torch from oversubscribing when tests spawn helpers.
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield
