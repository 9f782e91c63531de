# Written in the sixty-ninth session (its device budget ran out) for the next session's first call (carry
# [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6; either card): sixtyninth_profile.sh
# (Nsight: why WPL 8 and AHEAD 3 lose to the shipped KW 8 form at 4 tokens on 4096x4096), the fragment kernel's
# CUDA tests after FOLD_TILE and PRELOAD-with-KW were removed, and on an H200 the kernel table's one-task rows with
# W16 shipped there (this session's table was taken before W16).
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "$gpu"
bash benchmarks/device/sessions/sixtyninth_profile.sh
cuda_tests 240 cuda_tests_mma.log tests/kernels/test_triton_mma.py
case "$gpu" in
  *H200*) one_task_table $((570 - SECONDS)) ;;
esac
