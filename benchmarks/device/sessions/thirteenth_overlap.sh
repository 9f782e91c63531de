# Thirteenth session, first device call (~8 min): overlapped scheduling. Its CUDA tests with the engine-level list
# (test_overlap on the decode graphs; the others keep it off, step by step), then the decode step against its graph
# with overlap off and on, same machine: 16 rows over 16 tasks (gpr 1, 4 steps a plan) and 12 rows of one task
# with one step a plan (gpr 1: where the host's share was largest, 0.8 ms a step in the eleventh session).
# Run twice: the first run's collect read the tokens back with .tolist(), which queued behind the next plan.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 240 python3 -m pytest -q -p no:cacheprovider \
  test_overlap.py test_multi_step.py test_graph_prefill.py test_prefill_graphs.py test_step_args.py test_engine.py \
  test_scheduler.py 2>&1 | tee $OUT/server_tests_thirteenth.log | tail -3)
for overlap in off on; do
  timeout 100 python3 benchmarks/decode_host_time.py --gpr 1 --batch 16 --tasks 16 --decode-steps 4 \
    --overlap-scheduling $overlap 2>&1 | tee $OUT/decode_host_time_b16_t16_steps4_overlap_${overlap}_h200.log \
    | grep -E "^gpr|Error|error" | head -3
  timeout 80 python3 benchmarks/decode_host_time.py --gpr 1 --batch 12 --decode-steps 1 \
    --overlap-scheduling $overlap 2>&1 | tee $OUT/decode_host_time_b12_steps1_overlap_${overlap}_h200.log \
    | grep -E "^gpr|Error|error" | head -3
done
