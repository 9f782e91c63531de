# Sixty-fourth session (~3 min, Triton 3.9; a warm machine whose earlier call carried .device-carry/triton39/part_aa,
# this one carrying part_ab and SHA256):
# the split-K epilogue's sum through a cluster's distributed shared memory against the production one through global
# memory, bare (benchmarks/cluster_sum_timing.py: each kernel only loads its partial and sums; the floor stores it).
# Prediction: the global epilogue +1.0-1.8 us over the floor at 4 tokens (the fragment kernel's ~1.8 us includes the
# tail of its last program); the cluster one +0.3-0.6 us (two cluster barriers and a 16-byte DSMEM load a peer).
source benchmarks/device/prep.sh >/dev/null
install_triton39 >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
for m in 4 8 16; do
  timeout 120 python3 benchmarks/cluster_sum_timing.py --m $m --out $OUT/cluster_sum_m$m.json 2>&1 \
    | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks"
done
timeout 120 python3 benchmarks/cluster_sum_timing.py --n 11008 --m 4 --out $OUT/cluster_sum_11008_m4.json 2>&1 \
  | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks"
