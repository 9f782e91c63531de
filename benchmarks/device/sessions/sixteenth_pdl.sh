# Sixteenth session, seventh device call (~4 min): programmatic dependent launch (SKETCHSERVE_PDL=1: the decode
# kernels start while the kernel before them finishes; their codes, slot and LUT loads before griddepcontrol.wait).
# Its CUDA tests (results equal with it on and off; the fused decoder kernels against torch with it on), then
# serving at batch 1 and 16 x 1, gpr 1, with it off and on (prediction: 1-2 us a linear call, 5-8 % at batch 1).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
SKETCHSERVE_PDL=1 timeout 80 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_pdl.py tests/server/test_fused_ops.py \
  2>&1 | tee $OUT/pdl_tests_h200.log | tail -2
for pdl in 0 1; do
  SKETCHSERVE_PDL=$pdl timeout 80 python3 benchmarks/bench_serving.py --gpr 1 --batches 1 16 --tasks 1 --new-tokens 32 \
    --out $OUT/pdl$pdl 2>&1 | tee $OUT/serving_h200_pdl$pdl.log | grep -E "tok/s" | sed -n 1,2p
done
