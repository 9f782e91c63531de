# Sixty-seventh session (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6; H100 or
# H200, both timed against the H100's shipped choices): KW's CUDA tests, then sixtyseventh_kw.py at 4, 8 and 16 tokens
# (the split-K sum inside the program against the shipped choices, in turns with cuBLAS), then each key's fastest
# variant shipped in this machine's copy where it won (ship_best_variant.py) and, if any did, the kernel table's
# one-task decode rows with it.
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py -k "split_along_k or k_parts" 2>&1 \
  | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -2 | tee $OUT/cuda_tests_kw.log
timeout 300 python3 benchmarks/device/sessions/sixtyseventh_kw.py $shipped ${TOKENS:-4,8,16} 2>&1 | grep -v Warn | tail -40
case "$gpu" in *H200*) exit 0 ;; esac
python3 benchmarks/device/ship_best_variant.py kw.json $shipped 2>&1 | tail -8
if grep -q '"decode' $OUT/kw_shipped.json 2>/dev/null; then
  timeout $((570 - SECONDS)) python3 benchmarks/bench_kernels.py --out $OUT --phases decode \
    --decode-cases 1:1,4:1,8:1,16:1 --tell-tasks 2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" \
    > $OUT/kernels.log
  grep -E "T= 1:" $OUT/kernels.log | cut -c1-112
fi
