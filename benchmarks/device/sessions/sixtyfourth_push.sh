# Sixty-fourth session, second call (~3 min; carry as sixtyfourth_cluster.sh: [".device-carry"] with benchmarks/results
# left behind): cluster_sum_timing.py again, now with `push` (st.async into the owner CTA's shared memory, counted on
# its mbarrier; no cluster barrier between, the compiler's relaxed one after the mbarriers' init and its release one at
# the end). Prediction: push +0.6-0.9 us over the floor at 4 tokens, against global's and cluster's +1.0-1.4 (it drops
# the MEMBAR.ALL.GPU before the exchange; the end barrier's remains, after y's stores).
source benchmarks/device/prep.sh >/dev/null
install_triton39 >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
for case in "--m 4" "--m 16" "--m 8" "--n 11008 --m 4"; do
  tag=$(echo $case | tr -d ' -')
  timeout 90 python3 benchmarks/cluster_sum_timing.py $case --out $OUT/cluster_sum_$tag.json 2>&1 \
    | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks"
done
# Third call, the same warm machine and carry (inline): the shipped 4-token 4096x4096 choice's cluster size,
#   install_triton39; for m in 4 8; do python3 benchmarks/cluster_sum_timing.py --m $m --splits 8 \
#     --out $OUT/cluster_sum_split8_m$m.json; done
