# Fifty-fourth session's plan for the next H100 (one call, ~6-8 min, carry [".device-carry/triton39/part_aa",
# ".device-carry/triton39/SHA256"]): bash benchmarks/device/sessions/fiftyfourth_trials.sh
# Under Triton 3.9 the gather class (the op untold, or told where the pair kernel loses) tuned poor choices where
# Triton 3.6 did not (H100 kernel tables, fifty-first session under 3.6 against the fifty-third and fifty-fourth under
# 3.9): 11008x4096 at 16 tokens 27.1 -> 42.4 us at gpr 1 and 28.4 -> 40.3 at gpr 4; 4096x4096 gpr 4 at 4 tokens
# 12.4 -> 15.4. Why: the same decode rows (1, 4 and 16 tokens of one task, both gprs) on the two shapes, each Triton
# tuning afresh into a cache of its own with every candidate's outcome written (SKETCHSERVE_AUTOTUNE_TRIALS: its
# time, its failure, or that it disagreed with the default): $OUT/trials_t{36,39}.jsonl, kernels_t{36,39}.log and
# their tables' JSON. If a 3.6 winner fails or disagrees under 3.9, that is the cause; if it only runs slower, the
# SASS of the two compiles is next (bench_kernels.py --sm90 prmt under each Triton).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
table() {  # $1: label
  SKETCHSERVE_CACHE=/root/trials_$1 SKETCHSERVE_SHIPPED_TUNING=0 SKETCHSERVE_AUTOTUNE_TRIALS=$OUT/trials_$1.jsonl \
    timeout 220 python3 benchmarks/bench_kernels.py --out $OUT/$1 --phases decode --decode-cases 1:1,4:1,16:1 \
    --shapes 11008x4096,4096x4096 2>&1 | grep -v "Warn\|warn_once\|leaked\|nanobind\|skipped remainder\|refleaks" \
    > $OUT/kernels_$1.log
  grep "T= 1" $OUT/kernels_$1.log | cut -c1-72
}
python3 -c "import triton; print('triton', triton.__version__)"
table t36
install_triton39 >/dev/null
python3 -c "import triton; print('triton', triton.__version__)"
table t39
python3 benchmarks/trials_summary.py $OUT/trials_t36.jsonl $OUT/trials_t39.jsonl | tee $OUT/trials_summary.log | tail -40
