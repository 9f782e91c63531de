# Tenth session (~5 min): the step's time beyond its graph at batch 16 and 64 (gpr 1), one and four decode steps a
# plan (decode_host_time.py): how much host time multi-step decoding leaves at larger batches.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for batch in 16 64; do
  for steps in 1 4; do
    timeout 110 python3 benchmarks/decode_host_time.py --gpr 1 --batch $batch --decode-steps $steps 2>&1 \
      | tee $OUT/decode_host_time_b${batch}_steps$steps.log | head -1
  done
done
