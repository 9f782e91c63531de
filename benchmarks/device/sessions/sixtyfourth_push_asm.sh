# Written in the sixty-fourth session for the next (~5 min, the device's Triton 3.6, carry [".device-carry/wheels",
# ".device-carry/tasks"]; not run: the session's device time ran out).
# 1. The push bare, in plain Triton and inline PTX (cluster_sum_timing.sum_by_push_asm: buffer and mbarrier declared
#    in the asm; the kernel compiled as one CTA and launched as clusters, split_k_push.as_cluster), against the
#    production epilogue, in turns. Compiles for sm_90 under 3.6 and 3.9 with no MEMBAR at all. Prediction: as
#    Gluon's push, +0.5-1.0 us against +1.1-2.5. A hang (an owner waiting for bytes that never come) ends at the
#    timeout with no row printed.
# 2. The fragment kernel with PUSH: its CUDA tests (tests/kernels/test_split_k_push.py), then the shipped 4- and
#    8-token choices with and without it, in turns (sixtyfourth_push_ab.py; prediction there).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
for case in "--m 4 --splits 2,4,8" "--m 8 --splits 4,8"; do
  tag=$(echo $case | tr -d ' -' | tr ',' '_')
  timeout 60 python3 benchmarks/cluster_sum_timing.py $case --sums global,push_asm --out $OUT/cluster_sum_asm_$tag.json \
    2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" | tail -8
done
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_split_k_push.py 2>&1 \
  | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -3 \
  | tee $OUT/cuda_tests_push.log
timeout 120 python3 benchmarks/device/sessions/sixtyfourth_push_ab.py 2>&1 | grep -v -i warn | tail -8
