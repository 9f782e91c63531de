# Tenth session (~6 min): multi-step decoding on CUDA (its tests, the decode-graph and engine tests), the batch-1
# step's time beyond the graph with 1 and 4 decode steps a plan (decode_host_time.py), and the serving points at
# gpr 4 and 1 with the default 4 steps. The autotuner's H200 choices are put in the cache first (no start-up tuning).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
# (as run: the choices were copied into ~/.cache/sketchserve/autotune; they now ship in kernels/tuned/)
(cd tests/server && timeout 150 python3 -m pytest -q -p no:cacheprovider test_multi_step.py test_graph_prefill.py \
  test_prefill_graphs.py test_step_args.py 2>&1 | tee $OUT/server_tests.log | tail -3)
for steps in 1 4; do
  timeout 100 python3 benchmarks/decode_host_time.py --gpr 4 --batch 1 --decode-steps $steps 2>&1 \
    | tee $OUT/decode_host_time_steps$steps.log | head -1
done
timeout 280 python3 benchmarks/bench_serving.py --out $OUT --gpr 4 1 --batches 1 16 --tasks 1 16 \
  --bandwidth 4.25e12 --memory-gb 139 --new-tokens 32 2>&1 | tee $OUT/serving.log | grep -E "gpr=.*tok/s"
