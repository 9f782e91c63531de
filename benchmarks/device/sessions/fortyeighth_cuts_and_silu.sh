# Forty-eighth session (~6 min). 1. The sampling files on CUDA after the top-k / top-p / min-p cuts became one
# function for the device's batched draw and the CPU's row (server/sampling.py cut_sorted; min-p now compared on the
# logits). 2. Where SiLU's int8 digits cost more than the digits launch they replace (forty-fifth session's item 3):
# the int8 16 x 16 step's kernels, gpr 1, without PDL, with the norm's digits alone (the default) and with SiLU's too.
source benchmarks/device/prep.sh >/dev/null
bash benchmarks/device/cuda_tests.sh sampling | head -3
for d in norm 1; do
  mkdir -p $OUT/silu_$d
  SKETCHSERVE_PDL=0 SKETCHSERVE_INT8_NORM_DIGITS=$d timeout 150 python3 benchmarks/step_kernels.py --gpr 1 \
    --int8-activations --out $OUT/silu_$d 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/step_kernels_int8_digits_$d.log \
    | head -22
done
