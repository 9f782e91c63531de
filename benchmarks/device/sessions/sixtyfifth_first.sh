# Sixty-fifth session, first call (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6).
# A plain run may bring an H100 or an H200. On an H100: sixtyfourth_push_asm.sh (the push bare, the PUSH CUDA
# tests, the shipped 4/8-token choices with and without PUSH), then PUSH shipped in this machine's copy where it
# won (ship_best_variant.py over push_ab.json) and the kernel table's one-task decode rows. On an H200 (none came in
# three sessions): the PUSH CUDA tests first (they hold on any sm_90), then sixtythird_d.sh (the H200's 4/8-token
# retune and its kernel table).
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in
  *H200*)
    source benchmarks/device/prep.sh >/dev/null
    echo "$gpu"
    timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_split_k_push.py 2>&1 \
      | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -3 \
      | tee $OUT/cuda_tests_push.log
    bash benchmarks/device/sessions/sixtythird_d.sh ;;
  *)
    bash benchmarks/device/sessions/sixtyfourth_push_asm.sh
    source benchmarks/device/prep.sh >/dev/null
    # PUSH shipped (this machine's copy) where it won, then the kernel table's one-task decode rows with it
    python3 benchmarks/device/ship_best_variant.py push_ab.json 2>&1 | tail -8 && \
      timeout $((540 - SECONDS)) python3 benchmarks/bench_kernels.py --out $OUT --phases decode \
      --decode-cases 1:1,4:1,8:1,16:1 --tell-tasks 2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" \
      > $OUT/kernels.log
    grep -E "T= 1:" $OUT/kernels.log | cut -c1-112 ;;
esac
