# Sixty-fourth session (~6 min; carry [".device-carry"] with wheels, tasks and both Triton 3.9 parts, which fits with
# the tree only when benchmarks/results stays behind: `git rm -r -q --cached benchmarks/results` and its line in
# .git/info/exclude for the call, `git reset -q` and the line removed after it).
# 1. Under the device's Triton 3.6: the fragment kernel's every-candidate CUDA test (the two EARLY candidates joined
#    MMA_CANDIDATES after the sixty-third session's last device call).
# 2. Under Triton 3.9: the split-K epilogue's sum through a cluster's distributed shared memory against the production
#    one through global memory, bare (benchmarks/cluster_sum_timing.py: each kernel only loads its partial and sums;
#    the floor stores it). Prediction: the global epilogue +1.0-1.8 us over the floor at 4 tokens (the fragment
#    kernel's ~1.8 us includes the tail of its last program); the cluster one +0.3-0.6 us (two cluster barriers and a
#    16-byte DSMEM load a peer).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py -k every_fragment 2>&1 \
  | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -2 \
  | tee $OUT/cuda_tests_every_fragment.log
install_triton39 >/dev/null
python3 -c "import triton; print('triton', triton.__version__)"
for case in "--m 4" "--m 8" "--m 16" "--n 11008 --m 4"; do
  tag=$(echo $case | tr -d ' -')
  timeout 90 python3 benchmarks/cluster_sum_timing.py $case --out $OUT/cluster_sum_$tag.json 2>&1 \
    | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks"
done
