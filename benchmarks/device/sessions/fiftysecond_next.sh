# Fifty-second session's plan for the next H100 (name kind nvidia-h100-x1; one call, ~5-10 min; carry
# [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256", ".device-carry/wheels"]: about 50 MB):
#   bash benchmarks/device/sessions/fiftysecond_next.sh
# 1. benchmarks/read_floor.py on the H100 (measured only on the H200, thirtieth session): how fast a kernel that
#    only reads a layer's codes is in the kernel table's harness, beside cuBLAS and the op at one token; the
#    one-token bar (2.5x cuBLAS) against what a perfect reader reaches on the GPU. $OUT/read_floor.*
#    First, as it takes ~1 min: the tests compile ~40 kernel variants under Triton 3.9 and may need the rest of the
#    call's 600 s (their own limit: 480 s).
# 2. The pair kernel's CUDA tests under Triton 3.9 (the STAGES, 8 / 16-warp and XSTAGE cases included), whose pytest
#    summary the fifty-second session did not get: $OUT/cuda_tests_pairs.log. In its own process, so that
#    install_triton39's PYTHONPATH stays there.
(source benchmarks/device/prep.sh >/dev/null
 nvidia-smi --query-gpu=name --format=csv,noheader
 timeout 110 python3 benchmarks/read_floor.py --out $OUT 2>&1 | grep -v "Warn\|warn_once" > $OUT/read_floor.log
 tail -12 $OUT/read_floor.log)
bash benchmarks/device/sessions/fortyninth_pairs.sh tests
