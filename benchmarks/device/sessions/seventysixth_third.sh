# Seventy-sixth session, third call (either kind, ~9 min; $1: the H100's test seconds, default 560): on an H200,
# the kernel table's prefill rows with CODES_TMA the wgmma tiles' default (the H200's prefill bar was last timed
# before it, twenty-ninth session) and then the one-token launcher's PDL tests; on an H100, the GPU-marked kernel tests (every kernel checked against
# the reference on CUDA after this and last session's changes)
# -> $OUT/kernels.{json,log,png} (H200), $OUT/cuda_tests_*.log
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | awk '{print tolower($2)}')
echo "$gpu"
if [ "$gpu" = h200 ]; then
  timeout 330 python3 benchmarks/bench_kernels.py --out $OUT --phases prefill 2>&1 \
    | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" > $OUT/kernels.log
  grep "M=2048" $OUT/kernels.log | cut -c1-150
  cuda_tests 200 cuda_tests_pdl_forward_h200_seventysixth.log -m gpu tests/kernels/test_pdl.py \
    tests/kernels/test_triton_forward.py
else
  cuda_tests "${1:-560}" cuda_tests_gpu_marked_kernels_h100_seventysixth.log -m gpu tests/kernels
fi
