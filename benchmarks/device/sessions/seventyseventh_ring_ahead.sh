# Seventy-seventh session (written without a GPU), for an H100 with Triton 3.9 (two calls of one warm machine: the
# first carries .device-carry/triton39/part_aa and runs `source benchmarks/device/prep.sh; install_triton39` far
# enough to copy it, this one carries part_ab and SHA256; carry_triton39.sh writes them): the pair-table kernel's rings
# read ahead (kernels/gluon_decode_pairs.py RING_AHEAD 1 and 2) against the same staged entries without it, one task
# at 1, 4 and 16 tokens on 4096x4096 and 11008x4096 (gpr 1), each config checked against the reference as it is
# timed, then the kernel's CUDA tests (the new RING_AHEAD cases among them) within what is left of $1 seconds
# (default 560). Prediction: RING_AHEAD 2 at 4 stages ~0.5-1 us under the same entry without it at 4 tokens on
# 4096x4096 (the lookups' latency off the MMAs' path; the pair kernel's 8.2-9.0 us there, seventieth session), RING_AHEAD
# 1 within noise of it, the 6-stage forms slower (one program an SM).
# -> $OUT/pairs_grid_gpr1.json, $OUT/ring_ahead.log, $OUT/cuda_tests_pairs_t39_h100.log
source benchmarks/device/prep.sh >/dev/null
install_triton39
end=$(($(date +%s) + ${1:-560}))
timeout $((end - $(date +%s) - 150)) python3 benchmarks/pairs_decode.py --out $OUT --lists ring_ahead \
  --cases 1x1,4x1,16x1 --shapes 4096x4096,11008x4096 --budget-s 300 2>&1 \
  | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" | tee $OUT/ring_ahead.log | grep "T=1"
cuda_tests $((end - $(date +%s) - 10)) cuda_tests_pairs_t39_h100.log -m gpu tests/kernels/test_gluon_decode_pairs.py
