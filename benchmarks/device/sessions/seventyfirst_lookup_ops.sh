# Seventy-first session (H100, the device's Triton 3.6, ~3 min with the start): the lookup with one ALU instruction
# fewer a word (kernels/prmt_lut.py as committed: `and 0x77777777` once, the second half's selectors by a shift)
# against the old one (the mask taken per half) and a third form, that shift as `mul.hi.u32 s, s, 0x10000`
# (IMAD.HI: the FMA-heavy pipe instead of the ALU one). Three copies of the repository, each with its own
# prmt_lut.py (written below from the committed one), each timed by seventyfirst_lookup_ops.py, in turns twice.
# Prediction: the 4-token fragment kernel on 4096x4096 (its loop ALU-bound ~55 % of active cycles) 1-3 % faster
# with shr, 2-5 % with mulhi; one token (MODE 3, fp16 products on the FMA pipe too) 0-3 %.
#   -> $OUT/lookup_ops.jsonl
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
for v in old shr mulhi; do
  mkdir -p /tmp/tree_$v && cp -r benchmarks kernels sketch adapters server /tmp/tree_$v/
  python3 - /tmp/tree_$v/kernels/prmt_lut.py $v <<'PY'
import sys
path, form = sys.argv[1:]
src = open(path).read()
new = '        prog = [("shr", "s", "s", 16)] if half else [("and", "s", word, 0x77777777)]'
assert new in src
if form == "old":
    src = src.replace("for half, mask_sel in enumerate((0xD9C8, 0xFBEA)):", "for half, (shift, mask_sel) in "
                      "enumerate(((0, 0xD9C8), (16, 0xFBEA))):")
    src = src.replace(new, '        prog = [("shr", "s", word, shift), ("and", "s", "s", 0x7777)] if shift else '
                           '[("and", "s", word, 0x7777)]')
elif form == "mulhi":
    src = src.replace(new, new.replace('("shr", "s", "s", 16)', '("mul_hi", "s", "s", 0x10000)'))
    src = src.replace('ARITHMETIC = {', 'ARITHMETIC = {"mul_hi": "mul.hi.u32", ')
open(path, "w").write(src)
PY
done
for round in 1 2; do
  for v in old shr mulhi; do
    (cd /tmp/tree_$v && timeout 250 python3 benchmarks/device/sessions/seventyfirst_lookup_ops.py $v 2>&1 \
      | grep -v "Warn\|warn_once" | tee -a $OUT/lookup_ops.jsonl | tail -2)
  done
done
