# One device call (~2 min): where the 16 x 528-token burst's time goes (benchmarks/burst_steps.py), graph prefill
# up to 64 rows and up to 256.
source benchmarks/device/prep.sh
set -o pipefail
timeout 200 python3 benchmarks/burst_steps.py 2>&1 | tee $OUT/burst_steps.log | grep -vE "^\s+[0-9]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+/usr" | head -120
timeout 150 python3 benchmarks/burst_steps.py --cuda-graph-max-batch 256 --runs 2 2>&1 | tee $OUT/burst_steps_256.log | grep -E "^run|steps" 
