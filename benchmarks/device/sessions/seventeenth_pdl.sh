# Seventeenth session, first device call (~7 min): PDL for the gather and bucket kernels too, and PDL only inside a
# pdl_scope (the model's forward, the prefill graphs' pieces). CUDA tests (PDL on equals off for every PDL kernel;
# the engine-level server tests and the prefill graphs with it on), then serving with it off and on in one call
# (gpr 1, batch 1, 16 x 1, 16 x 16; prediction: 16 x 16 +1-2 %, the others as in the sixteenth session).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_pdl.py \
  tests/server/test_engine.py tests/server/test_multi_step.py tests/server/test_overlap.py tests/server/test_fused_ops.py \
  tests/server/test_step_args.py tests/server/test_prefill_graphs.py 2>&1 | tee $OUT/pdl_engine_tests_h200_seventeenth.log | tail -3
for pdl in 0 1; do
  SKETCHSERVE_PDL=$pdl timeout 150 python3 benchmarks/bench_serving.py --gpr 1 --batches 1 16 --tasks 1 16 \
    --new-tokens 32 --out $OUT/pdl$pdl 2>&1 | tee $OUT/serving_h200_seventeenth_pdl$pdl.log | grep -E "tok/s" | sed -n 1,4p
done
