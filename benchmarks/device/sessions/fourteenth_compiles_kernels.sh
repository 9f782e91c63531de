# Fourteenth session, third device call (~7 min): which kernel variants still compile after the start, with the
# arguments each specialized on (benchmarks/startup_compiles.py), then the kernel table with the v4 choices
# (the one-token fp16 calls now take HALF2).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 150 python3 benchmarks/startup_compiles.py --gpr 1 --tasks 16 2>&1 | tee $OUT/startup_compiles_attrs_h200.log \
  | grep -E "compile in|compiles at|started"
timeout 330 python3 benchmarks/bench_kernels.py --out $OUT 2>&1 | tee $OUT/kernels.log | grep -E "^decode .* M=  (1|16) " 
