# Run here (not on the device), from the repository root, before a session's first device call:
#   bash benchmarks/device/carry_wheels.sh
# Fills .device-carry/wheels (git-ignored; each `run` names it in `carry`) with what the device machine lacks (and
# .device-carry/tasks with the task datasets):
# ../shared/wheels (FastAPI, pydantic, uvicorn, gguf) and the HTTP tests' other imports, pinned to the versions of
# this checkout's .venv (FastAPI's telemetry needs opentelemetry-api; server/settings.py needs pydantic-settings;
# the test client needs httpx; the real-socket test drives the server with the openai client). prep.sh installs them all with --no-deps on the device.
set -euo pipefail
dest=.device-carry/wheels
mkdir -p $dest
cp ../shared/wheels/*.whl $dest/
pins=$(.venv/bin/python -m pip list --format=freeze 2>/dev/null | grep -i -E \
  '^(opentelemetry-api|pydantic-settings|openai|tqdm|python-dotenv|annotated-doc|httpx|httpx2|httpcore|httpcore2|truststore|anyio|h11|sniffio|idna|certifi|prometheus.client|importlib.metadata|zipp)==' || true)
# shellcheck disable=SC2086  # one argument per pin
.venv/bin/python -m pip download -q --no-deps -d $dest $pins importlib-metadata zipp 2>&1 | grep -v "is ignored" || true
ls $dest | wc -l
du -sh $dest
# the openai client's compiled part, for the device's Python (3.12, as ../shared/wheels' pydantic_core), and distro
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
  -d $dest "jiter==$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("jiter"))')" distro 2>&1 \
  | grep -v "is ignored" || true
# the task datasets (7 MB), for the tests that read ../shared/data/tasks (prep.sh puts them there on the device)
rm -rf .device-carry/tasks && cp -r ../shared/data/tasks .device-carry/tasks
