# Forty-third session (~3 min): the int8 kernel's MERGED form (one accumulator: the high digit's one-hot holds 127;
# 144 registers against 192) -- its CUDA tests, its timing against the two-accumulator form and the op's choices
# (16 tokens over 16 tasks, gpr 1), then Nsight Compute on one launch of each at 4096x4096 (where they wait).
source benchmarks/device/prep.sh >/dev/null
timeout 200 python3 -m pytest -q -p no:cacheprovider -rfE tests/kernels/test_int8_onehot.py 2>&1 | tail -5 \
  | tee $OUT/cuda_tests_int8.log
timeout 300 python3 benchmarks/bucket_int8.py --out $OUT 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/bucket_int8_gpr1.log
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
timeout 200 $NCU -k regex:'_bucket_wgmma_kernel|_bucket_int8_kernel' --section SpeedOfLight --section Occupancy \
  --section WarpStateStats --section SourceCounters --section LaunchStats --import-source no -o /tmp/int8 \
  python3 benchmarks/bucket_int8.py --profile 2>&1 | tail -4
$NCU -i /tmp/int8.ncu-rep --page details > $OUT/ncu_int8_details.log 2>&1
for case in "_bucket_int8_kernel 0 two_acc" "_bucket_int8_kernel 1 merged" "_bucket_wgmma_kernel 0 wide"; do
  set -- $case
  $NCU -i /tmp/int8.ncu-rep -k $1 --launch-skip $2 --launch-count 1 --page source --csv --print-source sass \
    > /tmp/src_$3.csv 2>&1
  python3 benchmarks/ncu_sass_summary.py /tmp/src_$3.csv --top 25 > $OUT/ncu_sass_$3.log 2>&1
done
ls $OUT
