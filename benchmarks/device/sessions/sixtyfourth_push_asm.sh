# Written in the sixty-fourth session for the next (~2 min, the device's Triton 3.6, carry [".device-carry/wheels"];
# not run: the session's device time ran out). The push in plain Triton and inline PTX (cluster_sum_timing.
# sum_by_push_asm: the push buffer and mbarrier declared in the asm as static shared memory; the kernel compiled as one
# CTA and launched as clusters through its packed metadata, as_cluster), against the production epilogue, in turns.
# It compiles for sm_90 under 3.6 and 3.9 with no MEMBAR at all (STAS, SYNCS, one relaxed cluster barrier). If it is
# correct and as cheap as Gluon's push (+0.5-1.0 us against +1.1-2.5), the fragment kernel can take it without Gluon
# or Triton 3.9. A hang (an owner waiting for bytes that never come) ends at the timeout with no row printed.
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
for case in "--m 4 --splits 2,4,8" "--m 8 --splits 4,8" "--m 16 --splits 4,8" "--n 11008 --m 4 --splits 2,4"; do
  tag=$(echo $case | tr -d ' -' | tr ',' '_')
  timeout 60 python3 benchmarks/cluster_sum_timing.py $case --sums global,push_asm --out $OUT/cluster_sum_asm_$tag.json \
    2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" | tail -8
done
