# Seventeenth session, third device call (~7 min): early release in the linear kernels (griddepcontrol.launch_dependents
# right after their wait, so that the next kernel's programs are resident and waiting when they finish). The PDL CUDA
# tests and the engine-level tests with it, then serving without it (the release lines deleted from this copy) and
# with it, gpr 1, batch 1, 16 x 1, 16 x 16 (prediction: < 1-2 % at batch 1).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_pdl.py \
  tests/server/test_engine.py tests/server/test_multi_step.py tests/server/test_overlap.py tests/server/test_fused_ops.py \
  tests/server/test_step_args.py tests/server/test_prefill_graphs.py 2>&1 | tee $OUT/release_engine_tests_h200.log | tail -3
cp -r kernels /tmp/kernels_release
sed -i '/# early release/d' kernels/*.py
grep -c "pdl_release(PDL)" kernels/triton_decode_prmt.py
for release in 0 1; do
  [ $release = 1 ] && rm -rf kernels && cp -r /tmp/kernels_release kernels && grep -c "pdl_release(PDL)" kernels/triton_decode_prmt.py
  timeout 150 python3 benchmarks/bench_serving.py --gpr 1 --batches 1 16 --tasks 1 16 \
    --new-tokens 32 --out $OUT/release$release 2>&1 | tee $OUT/serving_h200_release$release.log | grep -E "tok/s" | sed -n 1,3p
done
