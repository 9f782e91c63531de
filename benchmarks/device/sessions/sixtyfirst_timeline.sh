# Sixty-first session (H100, Triton 3.6, carry .device-carry for the tests' wheels and task data, ~8 min):
# 1. decode_timeline.py: the shipped one-token kernel with clock stamps (start, each K block done, end) on
#    4096x4096 and 11008x4096 at gpr 1 and 4, three configs. Question: does each block wait on its words (the
#    stream sets the pace) or does a fixed chain (the LUT prologue, the last block's lookups, the row sums) set it?
# 2. The op's CUDA tests under today's defaults (CODES_TMA and LUT_STAGE in the wgmma prefill the op takes for
#    segments, the decode kernels): the forward, fragment, 2-4-token, backward and PDL files.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
python3 -c "import triton; print('triton', triton.__version__)"
timeout 200 python3 benchmarks/decode_timeline.py --out $OUT --shapes 4096x4096,11008x4096 --gpr 1,4 2>&1 \
  | grep -v -i warn | tail -20
timeout ${TEST_LIMIT:-330} python3 -m pytest -q -p no:cacheprovider -rfE --durations=8 \
  tests/kernels/test_triton_forward.py tests/kernels/test_triton_mma.py tests/kernels/test_triton_prmt_tokens.py \
  tests/kernels/test_triton_backward.py tests/kernels/test_pdl.py > $OUT/cuda_tests_op_sixtyfirst.log 2>&1
echo "pytest rc=$?"
grep -E "FAILED|ERROR" $OUT/cuda_tests_op_sixtyfirst.log | head -20
tail -12 $OUT/cuda_tests_op_sixtyfirst.log
