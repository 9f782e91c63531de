# Twelfth session (~2 min): twelfth_prefill_groups.sh again after the start-up tuning calls prefill sizes in runs of
# one slot (the first run's 1.2 s steps should be gone), then the tuning and dense-prefill CUDA tests.
source benchmarks/device/prep.sh >/dev/null
for t in 16 3; do
  b=$([ $t = 16 ] && echo 16 || echo 12)
  timeout 120 python3 benchmarks/decode_host_time.py --gpr 1 --batch $b --tasks $t --decode-steps 4 --tokens 32 \
    > $OUT/decode_host_time_b${b}_t${t}_prefill_after_h200.log 2>&1
  grep -E "^run|^gpr" $OUT/decode_host_time_b${b}_t${t}_prefill_after_h200.log
done
(cd tests/server && SKETCHSERVE_CACHE=/tmp/testcache timeout 200 python3 -m pytest -q -p no:cacheprovider \
  test_kernel_tuning.py test_dense_prefill.py 2>&1 | tail -1)
