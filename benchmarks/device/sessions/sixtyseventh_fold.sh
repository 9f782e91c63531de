# Sixty-seventh session, third run (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6;
# H100 or H200, timed against the H100's shipped choices): the KW tests on CUDA (both folds), sixtyseventh_fold.py at
# 4, 8 and 16 tokens, the winners shipped in this machine's copy (2 % rule), then the kernel table's one-task rows.
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
cuda_tests 70 cuda_tests_fold.log tests/kernels/test_triton_mma.py -k "split_along_k and dtype0"
timeout 200 python3 benchmarks/device/sessions/sixtyseventh_fold.py $shipped ${TOKENS:-4,8,16} 2>&1 | grep -v Warn | tail -20
if [[ "$gpu" != *H200* ]]; then python3 benchmarks/device/ship_best_variant.py fold.json $shipped 2>&1 | tail -6; fi
one_task_table $((560 - SECONDS))
