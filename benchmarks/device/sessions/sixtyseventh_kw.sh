# Sixty-seventh session (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6; H100 or
# H200, both timed against the H100's shipped choices): KW's CUDA tests, then sixtyseventh_kw.py at 4, 8 and 16 tokens
# (the split-K sum inside the program against the shipped choices, in turns with cuBLAS), then each key's fastest
# variant shipped in this machine's copy where it won (ship_best_variant.py) and, if any did, the kernel table's
# one-task decode rows with it.
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
cuda_tests 150 cuda_tests_kw.log tests/kernels/test_triton_mma.py -k "split_along_k or k_parts"
timeout 300 python3 benchmarks/device/sessions/sixtyseventh_kw.py $shipped ${TOKENS:-4,8,16} 2>&1 | grep -v Warn | tail -40
case "$gpu" in *H200*) exit 0 ;; esac
ship_won kw.json $shipped $((570 - SECONDS))
