source benchmarks/device/prep.sh >/dev/null
timeout 300 python3 -m pytest -q tests/server/test_prefill_graphs.py tests/server/test_engine.py tests/server/test_overlap.py tests/adapters 2>&1 | tail -4; echo "pytest rc=${PIPESTATUS[0]}"
