# Eleventh session, first device call (~8 min): the CUDA tests of the tenth session's CPU-tested prepare(ahead=)
# (multi-step decoding's later steps) with the engine-level list, then the step's time beyond its graph at gpr 4
# batch 1 (4 steps a plan) and gpr 1 batch 16 (1 step a plan: the graph timed one replay at a time and back to back).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 260 python3 -m pytest -q -p no:cacheprovider \
  test_multi_step.py test_graph_prefill.py test_prefill_graphs.py test_step_args.py test_engine.py \
  2>&1 | tee $OUT/server_tests.log | tail -3)
timeout 100 python3 benchmarks/decode_host_time.py --gpr 4 --batch 1 --decode-steps 4 2>&1 \
  | tee $OUT/decode_host_time_b1_steps4_gpr4.log | sed -n 1,2p
timeout 110 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --decode-steps 1 2>&1 \
  | tee $OUT/decode_host_time_b16_steps1_gpr1.log | sed -n 1,2p
