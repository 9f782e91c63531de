# Next session (~10 min): four ways out of Triton's layout conversions through shared memory, written in the
# twenty-first session after its device time ran out and checked on the CPU only (interpreter, sm_90 SASS):
# - the one-token kernel's X_VEC 2 (x's pairs of whole blocks as two 8-byte loads a word in the rows' tile): loop
#   barriers 2 -> 0 a block (the shipped choices have X_VEC 1);
# - the 2-4-token kernel's X_LANES (the same per token): barriers 10 -> 6 (2 tokens), 18 -> 10 (4);
# - the fragment kernel's LANE_STORE (each accumulator stored from its lanes): epilogue barriers 14 -> 3 at 1 tile,
#   38 -> 3 at 2 tiles x 2 row blocks; registers 71 -> 64 and 135 -> 113;
# - the bucket kernel's FOLD_ASM (the LUT fold's 16 gathers as asm loads in the accumulators' layout): barriers
#   39 -> 7 (cols, QUADS, 16 x 32 x 64), 128 registers as before.
# CUDA tests, then each on the shipped choices, off and on in turns (choices of other kernels read ~1.0x).
# Prediction: 3-10 % at one token (8 barriers a program fewer), 5-15 % for the fragment kernel's shapes at 4 and 16
# tokens (its split-K epilogue held 39 % of the stall samples at 16 tokens, nineteenth session), 5-10 % for the
# bucket kernel at 16 x 16 (more at gpr 4, where the fold runs 4 times a program).
source benchmarks/device/prep.sh >/dev/null
timeout 300 python3 -m pytest -q -x tests/kernels/test_triton_mma.py tests/kernels/test_triton_prmt_tokens.py \
  tests/kernels/test_prmt_lut.py tests/kernels/test_triton_bucket.py -k "not autotuner" 2>&1 | tail -2
timeout 150 python3 benchmarks/choice_ab.py --out $OUT --flag X_VEC --values 1,2 --m 1 2>&1 | grep -v Warn \
  | tee $OUT/choice_ab_m1_x_vec2_h200.log
timeout 120 python3 benchmarks/choice_ab.py --out $OUT --flag X_LANES --m 2 2>&1 | grep -v Warn \
  | tee $OUT/choice_ab_m2_x_lanes_h200.log
for m in 4 16; do
  timeout 150 python3 benchmarks/choice_ab.py --out $OUT --flag LANE_STORE --m $m 2>&1 | grep -v Warn \
    | tee $OUT/choice_ab_m${m}_lane_store_h200.log
done
timeout 150 python3 benchmarks/choice_ab.py --out $OUT --kernel bucket --m 16 --tasks 16 --flag FOLD_ASM 2>&1 \
  | grep -v Warn | tee $OUT/choice_ab_bucket_m16_t16_fold_asm_h200.log
