# Thirty-fourth session, fourth call (~4 min): STAGGER (split-K ranges of different lengths; measured slower and removed,
# NOTES.md) against the shipped choices in turns on five shapes, gpr 1 and 4; its CUDA tests (with PDL).
source benchmarks/device/prep.sh >/dev/null
timeout 150 python3 -m pytest -q -x tests/kernels/test_triton_bucket_wgmma.py -k "staggered" -p no:cacheprovider \
  2>&1 | tail -2 | tee $OUT/cuda_tests_stagger_thirtyfourth.log
for g in 1 4; do
  timeout 120 python3 benchmarks/bucket_probe.py --out $OUT --gpr $g 2>&1 | grep -v "Warn\|warn_once" \
    | tee $OUT/bucket_probe_stagger_gpr${g}_thirtyfourth.log | cut -c1-140
done
