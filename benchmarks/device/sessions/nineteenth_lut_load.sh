# Nineteenth session (~1.5 min): where a cold task's LUT load goes (bench_serving.py: ~0.23 s from the miss to a ready
# slot at gpr 1; on a 2-core CPU the phases add up to ~80 ms but the pool takes ~0.29 s), phase by phase.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 300 python3 benchmarks/lut_load.py --gpr 1 --tasks 6 --out $OUT 2>&1 | tee $OUT/lut_load_gpr1_h200${1:-}.log | grep -v Warn
