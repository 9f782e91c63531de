# Nineteenth session (~4 min): the session's prefill groups and LUT loads at gpr 4: serving 16 rows over 4 tasks
# with its staggered and burst runs (before, this session's first call: staggered over 4 tasks 528 tok/s), and a
# gpr-4 set's load (174 MB; ~460 ms in bench_serving before).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
SKETCHSERVE_CACHE=/tmp/sscache timeout 230 python3 benchmarks/bench_serving.py --gpr 4 --batches 16 --tasks 4 \
  --new-tokens 32 --out $OUT/groups_gpr4 2>&1 | tee $OUT/serving_h200_prefill_groups_gpr4.log | grep -E "tok/s|autotune|LUT load|burst"
timeout 200 python3 benchmarks/lut_load.py --gpr 4 --tasks 4 --out $OUT 2>&1 | tee $OUT/lut_load_gpr4_h200.log | grep -v Warn
