# Twenty-first session (~4 min): the kernels' CUDA tests with the 2-token choices shipped in NVIDIA_H200.v8.json.
source benchmarks/device/prep.sh >/dev/null
timeout 400 python3 -m pytest -q tests/kernels/test_triton_prmt_tokens.py tests/kernels/test_triton_forward.py \
  tests/kernels/test_triton_mma.py tests/server/test_kernel_tuning.py tests/server/test_model.py 2>&1 | tail -4
