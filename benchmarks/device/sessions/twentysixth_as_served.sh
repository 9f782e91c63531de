# Twenty-sixth session, fifth call (~3 min): the one-task linear op alone and after the fused RMSNorm (PDL), against
# cuBLAS alone and after the same norm (benchmarks/linear_as_served.py), 1 and 16 tokens, gpr 1 and 4; then the
# timing module's GPU tests (graph_time_ms's new preceded_by).
source benchmarks/device/prep.sh >/dev/null
SKETCHSERVE_CACHE=/tmp/ssas timeout 400 python3 benchmarks/linear_as_served.py --tokens 1 16 --gpr 1 4 \
  --out $OUT/linear_as_served_h200 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/linear_as_served_h200.log
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_timing.py 2>&1 | tail -3
