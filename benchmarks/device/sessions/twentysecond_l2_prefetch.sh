# Twenty-second session: L2_PREFETCH (a program's whole codes range asked of L2 at its start, one bulk prefetch a
# thread, before the PDL wait) in the one-token and fragment kernels, on the shipped choices, off and on in turns.
# Prediction: the one-token kernel 7.9 -> ~6.5-7 us on 4096x4096 (its codes loads a block ahead meet L2 latency
# instead of DRAM's); the fragment kernel (4-16 tokens) 3-10 %; shapes whose choice is another kernel ~1.0x.
source benchmarks/device/prep.sh >/dev/null
timeout 120 python3 -m pytest -q tests/kernels/test_pdl.py -k "l2" 2>&1 | tail -1
for m in 1 4 8 16; do
  timeout 90 python3 benchmarks/choice_ab.py --out $OUT --flag L2_PREFETCH --m $m 2>&1 | grep -v Warn \
    | tee $OUT/choice_ab_m${m}_l2_prefetch_h200.log
done
