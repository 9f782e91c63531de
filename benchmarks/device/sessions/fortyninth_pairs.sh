# Forty-ninth session's plan (~12 min after two carrying calls): the pair-table decode kernel
# (kernels/gluon_decode_pairs.py), Triton 3.9 only. Before it, on this machine: bash benchmarks/device/carry_triton39.sh.
#   call 1, carry [".device-carry/triton39/part_aa"]: mkdir -p /root/t39 && cp .device-carry/triton39/part_aa /root/t39/
#   call 2, carry [".device-carry/triton39/part_ab", ".device-carry/triton39/SHA256"]:
#     bash benchmarks/device/sessions/fortyninth_pairs.sh 1       (the CUDA tests, then the gpr 1 grid)
#   call 3 (nothing carried): bash benchmarks/device/sessions/fortyninth_pairs.sh 4
# 1. its CUDA tests (the kernel against the reference, poisoned output, split counters reused); 2. its grid against
# the op as shipped (compiled by Triton 3.9) and cuBLAS at 1-16 tokens of one task.
source benchmarks/device/prep.sh >/dev/null
install_triton39
if [ "$1" = 1 ]; then
  timeout 240 python3 -m pytest -q tests/kernels/test_gluon_decode_pairs.py 2>&1 | tail -15 | tee $OUT/cuda_tests_pairs.log
fi
for gpr in $1; do
  timeout 420 python3 benchmarks/pairs_decode.py --out $OUT --gpr $gpr --budget-s 90 --cases 1x1,4x1,16x1 2>&1 \
    | grep -v "Warn\|warn_once" | tee $OUT/pairs_grid_gpr$gpr.log | grep "T=1:"
done
