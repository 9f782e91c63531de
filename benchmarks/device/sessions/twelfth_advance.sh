# Twelfth session, second device call (~7 min): multi-step decoding with the later steps' inputs advanced on the
# device (advance_decodes): its CUDA tests with the engine-level list, then the step beyond its graph at 4 and 8 steps
# a plan (16 rows over 16 tasks and 12 rows of one task at gpr 1; batch 1 at gpr 4), against the first call's.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 260 python3 -m pytest -q -p no:cacheprovider \
  test_multi_step.py test_graph_prefill.py test_prefill_graphs.py test_step_args.py test_engine.py \
  2>&1 | tee $OUT/server_tests_twelfth.log | tail -3)
for steps in 4 8; do
  timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16 --decode-steps $steps 2>&1 \
    | tee $OUT/decode_host_time_b16_t16_steps${steps}_gpr1_advance_h200.log | sed -n 2p
  timeout 80 python3 benchmarks/decode_host_time.py --gpr 1 --batch 12 --decode-steps $steps 2>&1 \
    | tee $OUT/decode_host_time_b12_steps${steps}_gpr1_advance_h200.log | sed -n 2p
  timeout 80 python3 benchmarks/decode_host_time.py --gpr 4 --batch 1 --decode-steps $steps 2>&1 \
    | tee $OUT/decode_host_time_b1_steps${steps}_gpr4_advance_h200.log | sed -n 2p
done
