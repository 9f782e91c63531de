# Twenty-eighth session (~8 min): the segment tiles' choices ("prefill_tiles|" entries) re-tuned with the wgmma
# kernel's candidates beside the register-LUT ones: the shipped entries are dropped from this machine's copy, so
# prefill_tasks.py's tiled cases tune them into $OUT/cache (for kernels/tuned/), gpr 1; then the kernel table's
# prefill rows with those choices (bench_kernels.py --phases prefill); then gpr 4 in the time left.
source benchmarks/device/prep.sh >/dev/null
drop_shipped "prefill_tiles|"
tasks() {
  SKETCHSERVE_CACHE=$OUT/cache timeout $1 python3 benchmarks/prefill_tasks.py --out $OUT --gpr $2 \
    --cases "x 256,x 64,x 127,x 32,x 96,x 512" 2>&1 | grep -v "Warn\|warn_once" > $OUT/prefill_tasks_wgmma_gpr$2_twentyeighth.log
  grep "x 256\|x 64 " $OUT/prefill_tasks_wgmma_gpr$2_twentyeighth.log | cut -c1-120; echo "== gpr $2 ($SECONDS s)"
}
tasks 240 1
SKETCHSERVE_CACHE=$OUT/cache timeout 150 python3 benchmarks/bench_kernels.py --out $OUT --phases prefill 2>&1 \
  | grep -v "Warn\|warn_once" > $OUT/kernels_prefill_h200_twentyeighth.log
grep "^prefill" $OUT/kernels_prefill_h200_twentyeighth.log | sed 's/LoRA.*//'; echo "== table ($SECONDS s)"
rm -f $OUT/*.png
tasks $((560 - SECONDS)) 4
