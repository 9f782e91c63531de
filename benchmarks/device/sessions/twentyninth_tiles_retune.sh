# Twenty-ninth session (~9 min): the wgmma CUDA tests the first run's timeout cut (cases 2 and 3: N 200, 3-bit bf16,
# gpr 2 and 8), then the segment tiles' choices ("prefill_tiles|" entries) re-tuned with the TMA / PINGPONG wgmma
# candidates (dropped from this machine's copy, tuned into $OUT/cache for kernels/tuned/), gpr 1; then the kernel
# table's prefill rows with those choices (bench_kernels.py --phases prefill).
source benchmarks/device/prep.sh >/dev/null
drop_shipped "prefill_tiles|"
timeout 150 python3 -m pytest -q -x tests/kernels/test_prefill_wgmma.py -k "tiles[2] or tiles[3]" 2>&1 | tail -5 \
  > $OUT/cuda_tests_wgmma_cases23_twentyninth.log
tail -2 $OUT/cuda_tests_wgmma_cases23_twentyninth.log; echo "== tests ($SECONDS s)"
SKETCHSERVE_CACHE=$OUT/cache timeout 270 python3 benchmarks/prefill_tasks.py --out $OUT --gpr 1 \
  --cases "x 256,x 64,x 127,x 32,x 96,x 512" 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_tasks_tma_gpr1_twentyninth.log
grep "x 256\|x 64 " $OUT/prefill_tasks_tma_gpr1_twentyninth.log | cut -c1-120; echo "== gpr 1 ($SECONDS s)"
SKETCHSERVE_CACHE=$OUT/cache timeout $((545 - SECONDS)) python3 benchmarks/bench_kernels.py --out $OUT --phases prefill \
  2>&1 | grep -v "Warn\|warn_once" > $OUT/kernels_prefill_h200_twentyninth.log
grep "^prefill" $OUT/kernels_prefill_h200_twentyninth.log | sed 's/LoRA.*//'; echo "== table ($SECONDS s)"
rm -f $OUT/*.png
