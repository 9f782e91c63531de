"""The top-level `kernels` package shares its import name with Hugging Face's `kernels` distribution, which
transformers >= 5.25 requires and imports as its hub-kernels library whenever that distribution is installed: it
would get this project's package and fail while loading any model (CI, 2026-12-03). pyproject.toml keeps
transformers below 5.25; this checks the environment the tests run in."""

import importlib.metadata
from pathlib import Path

import kernels


def test_import_kernels_finds_this_projects_package():
    assert Path(kernels.__file__).resolve().parent == Path(__file__).resolve().parents[2] / "kernels"


def test_no_other_distribution_named_kernels_is_installed():
    try:
        version = importlib.metadata.version("kernels")
    except importlib.metadata.PackageNotFoundError:
        return
    raise AssertionError(f"Hugging Face's `kernels` {version} is installed (transformers >= 5.25 pulls it in): its "
                         "import name is this project's kernels package; `pip uninstall kernels` and keep "
                         "transformers < 5.25 (pyproject.toml)")  # fmt: skip
