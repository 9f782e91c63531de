# Forty-second session: the engine-level tests on CUDA after the attention change (a decode-only step's attention
# returned without a copy), then the serving table with it (as sessions/fortysecond_serving.sh, gpr 1 and 4).
bash benchmarks/device/cuda_tests.sh engine | head -8
bash benchmarks/device/sessions/fortysecond_serving.sh
