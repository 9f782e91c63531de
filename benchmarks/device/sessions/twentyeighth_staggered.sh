# Twenty-eighth session's serving check (~6 min; written, not run: no device time was left): the staggered runs
# over 4 and 8 tasks (gpr 1, batch 16, 32 new tokens) with the wgmma prefill kernel in the segment tiles and the
# tiles' choices per class of segment length. Twenty-seventh session: 815.7 tok/s over 4 tasks, 695.6 over 8.
# Prediction: +3-8 % (8 x 256 and 4 x 256 projections 11-15 % faster, 8 x 64 2.2x; prefill is a third to a half of
# these runs).
bash benchmarks/device/sessions/twentyseventh_staggered.sh twentyeighth
