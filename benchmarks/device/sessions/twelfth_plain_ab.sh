# Twelfth session (~3 min): plain temperature sampling (temperature 0.8, no top-k / top-p cut: the OpenAI API's
# defaults) without a sort of the vocabulary (draw_on_device's plain group) against the previous commit, which sorted
# every sampled row (scratch_ab/sampling_sorted_all.py, untracked, copied over for the second half). gpr 1, one task,
# batch 16 and 64, 4 steps a plan; top-p 0.95 (the sorted group, unchanged) once for reference. Then the tests.
source benchmarks/device/prep.sh >/dev/null
run() {  # batch top_p label
  timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch $1 --decode-steps 4 --temperature 0.8 \
    --top-p $2 > $OUT/decode_host_time_b$1_steps4_gpr1_$3_h200.log 2>&1
  echo "$3: $(sed -n 2p $OUT/decode_host_time_b$1_steps4_gpr1_$3_h200.log)"
}
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider \
  test_sampling.py test_multi_step.py 2>&1 | tail -1)
for b in 16 64; do run $b 1.0 plain_nosort; done
run 64 0.95 topp_sorted
cp scratch_ab/sampling_sorted_all.py server/sampling.py
for b in 16 64; do run $b 1.0 plain_sorted; done
