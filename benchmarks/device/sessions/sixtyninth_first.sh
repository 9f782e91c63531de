# Written in the sixty-eighth session (no device came) for the next session's first call (carry
# [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6). On an H100: the PRELOAD-with-KW and KW
# CUDA tests, sixtyeighth_preload.py at 4 and 8 tokens (TOKENS=4,8,16 adds 16: FOLD_TILE and the preloaded KW forms
# against the shipped choices, in turns with cuBLAS), the winners shipped in this machine's copy
# ($OUT/preload_shipped.json -> the local file), then the kernel table's one-task rows. On an H200:
# sixtyfifth_first.sh's H200 branch (the retune).
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in
  *H200*) bash benchmarks/device/sessions/sixtyfifth_first.sh; exit ;;
esac
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
echo "$gpu"
cuda_tests 90 cuda_tests_preload.log tests/kernels/test_triton_mma.py -k "(preloaded_k_parts or split_along_k) and dtype0"
timeout 300 python3 benchmarks/device/sessions/sixtyeighth_preload.py $shipped ${TOKENS:-4,8} 2>&1 | grep -v Warn | tail -24
ship_won preload.json $shipped $((570 - SECONDS))
