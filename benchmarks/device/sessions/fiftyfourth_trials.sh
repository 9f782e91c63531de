# Fifty-fourth session's plan for the next H100 (one call, ~8 min, carry [".device-carry/triton39/part_aa",
# ".device-carry/triton39/SHA256"]): bash benchmarks/device/sessions/fiftyfourth_trials.sh
# Under Triton 3.9 three decode rows of the gather class ran 1.3-1.6x slower than under 3.6 with the same shipped
# choices (kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json, all fragment-kernel configs with split-K): 11008x4096 at 16
# tokens 27.1 -> 42.4 us at gpr 1 and 28.4 -> 40.3 at gpr 4 (ROWS 2, split 6); 4096x4096 gpr 4 at 4 tokens
# 12.4 -> 15.4 (split 16). The sm_90 compile showed why: 3.9 converted the fragment kernel's joined outputs through
# 4 KB of shared memory with ~35 barriers a program. The kernel now stores each tile as the lanes hold it (no shared
# memory, 3 barriers; fewer instructions under both Tritons). This call: the fragment kernel's CUDA tests and the
# decode rows at 1, 4 and 16 tokens of one task, both gprs, on 11008x4096 and 4096x4096, under the device's Triton
# 3.6 and then 3.9, the shipped choices as before (every fresh tuning's candidates written:
# SKETCHSERVE_AUTOTUNE_TRIALS). Prediction: under 3.9 the three rows back to 3.6's times (27-28, 28-29 and
# 12-12.5 us), the other rows within a few per cent; under 3.6 no row slower. $OUT/kernels_t{36,39}.log,
# cuda_tests_mma_t{36,39}.log, trials_t{36,39}.jsonl, trials_summary.log
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
# (fifty-fifth session) Lent an H200 instead: the H100's shipped choices over its own, in each run's cache, so the
# rows still run the same fragment-kernel configs under both Tritons (their times then the H200's, compared in-run).
for label in t36 t39; do
  SKETCHSERVE_CACHE=/root/trials_$label python3 -c "
import shutil, sys; from kernels.autotune import SHIPPED_DIR, cache_path
h100 = SHIPPED_DIR / 'NVIDIA_H100_80GB_HBM3.v8.json'; own = cache_path()
if own.name != h100.name: own.parent.mkdir(parents=True, exist_ok=True); shutil.copy(h100, own); print('H100 choices ->', own)"
done
run() {  # $1: label
  python3 -c "import triton; print('triton', triton.__version__)"
  timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py 2>&1 \
    | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -3 \
    | tee $OUT/cuda_tests_mma_$1.log
  SKETCHSERVE_CACHE=/root/trials_$1 SKETCHSERVE_AUTOTUNE_TRIALS=$OUT/trials_$1.jsonl \
    timeout 200 python3 benchmarks/bench_kernels.py --out $OUT/$1 --phases decode --decode-cases 1:1,4:1,16:1 \
    --shapes 11008x4096,4096x4096 2>&1 | grep -v "Warn\|warn_once\|leaked\|nanobind\|skipped remainder\|refleaks" \
    > $OUT/kernels_$1.log
  grep "T= 1" $OUT/kernels_$1.log | cut -c1-72
}
run t36
install_triton39 >/dev/null
run t39
touch $OUT/trials_t36.jsonl $OUT/trials_t39.jsonl
python3 benchmarks/trials_summary.py $OUT/trials_t36.jsonl $OUT/trials_t39.jsonl > $OUT/trials_summary.log 2>&1
