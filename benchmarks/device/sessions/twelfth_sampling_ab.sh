# Twelfth session (~5 min): sampled decoding (temperature 0.8, top-p 0.95, unseeded) with the vectorized draw
# (draw_on_device: one copy from page-locked memory, one race for all rows) against the per-row loop it replaced
# (copied over it for the second half: scratch_ab/sampling_loop.py, untracked, travels with the tree). gpr 1, one task,
# batch 16 and 64, 1 and 4 steps a plan; greedy at batch 16 for reference. Then the sampling CUDA tests.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
run() {  # batch steps label [temperature]
  timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch $1 --decode-steps $2 --temperature ${4:-0.8} \
    --top-p 0.95 > $OUT/decode_host_time_b$1_steps$2_gpr1_$3_h200.log 2>&1
  echo "$3: $(sed -n 2p $OUT/decode_host_time_b$1_steps$2_gpr1_$3_h200.log)"
}
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider \
  test_sampling.py test_multi_step.py test_json_mode.py 2>&1 | tee $OUT/sampling_tests_twelfth.log | tail -2)
run 16 4 greedy 0
for b in 16 64; do for st in 4 1; do run $b $st sampled_vectorized; done; done
cp scratch_ab/sampling_loop.py server/sampling.py
for b in 16 64; do for st in 4 1; do run $b $st sampled_loop; done; done
