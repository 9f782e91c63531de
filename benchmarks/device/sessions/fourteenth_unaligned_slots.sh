# Fourteenth session, fourth device call (~6 min): the kernels no longer specialize on the slot array's alignment;
# their CUDA tests, then which variants still compile after the start, each with what it differs in from the
# nearest variant compiled before (benchmarks/startup_compiles.py).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 300 python3 -m pytest -q -p no:cacheprovider tests/kernels 2>&1 | tee $OUT/kernel_tests_unaligned_slots_h200.log | tail -3
timeout 200 python3 benchmarks/startup_compiles.py --gpr 1 --tasks 16 2>&1 | tee $OUT/startup_compiles_unaligned_slots_h200.log \
  | grep -E "compile in|compiles at|started|^decode|^first|^prompt"
