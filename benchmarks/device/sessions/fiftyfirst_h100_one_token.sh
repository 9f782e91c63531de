# Fifty-first session's plan for the next H100 (name kind nvidia-h100-x1; ~12 min in two calls, carry
# [".device-carry/wheels"]): the one-token decode grid wider than the op's H200-pruned candidates, at gpr 1 (2.42x
# cuBLAS on 4096x4096, 2.497x on 4096x11008 in the fresh-machine table; the bar 2.5x) and gpr 4 (1.97-2.36x).
#   call 1: bash benchmarks/device/sessions/fiftyfirst_h100_one_token.sh 1
#   call 2: bash benchmarks/device/sessions/fiftyfirst_h100_one_token.sh 4
# Each writes $OUT/decode_m1_grid_gpr{G}.json and .log (every config checked against the reference; each mode's
# best re-timed in rounds), on 4096x4096 then 11008x4096 and 4096x11008 (--down 1).
# If a config beats the shipped choice by more than the rounds' spread: add it to the one-token candidates
# (kernels/triton_decode_prmt.py) and to kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json, then re-run the table.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
g=${1:-1}
mkdir -p $OUT/g$g
timeout 420 python3 benchmarks/decode_grid.py --out $OUT/g$g --m 1 --gpr $g --budget-s 240 --down 1 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/decode_m1_grid_gpr$g.log
cp $OUT/g$g/*.json $OUT/decode_m1_grid_gpr$g.json 2>/dev/null
tail -25 $OUT/decode_m1_grid_gpr$g.log
