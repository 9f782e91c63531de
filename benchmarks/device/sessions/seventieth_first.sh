# Written in the sixty-ninth session (its device budget ran out) for the next session's first call (carry
# [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6; either card): sixtyninth_profile.sh
# (Nsight: why WPL 8 and AHEAD 3 lose to the shipped KW 8 form at 4 tokens on 4096x4096), the fragment kernel's
# CUDA tests after FOLD_TILE and PRELOAD-with-KW were removed, and on an H200 the kernel table's one-task rows with
# W16 shipped there (this session's table was taken before W16); between them, seventieth_kw16.py (16-warp programs
# in 16 parts under a 64-register cap against the shipped choices, 4 and 8 tokens) and its winners shipped in this
# machine's copy ($OUT/kw16_shipped.json -> the local file).
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "$gpu"
bash benchmarks/device/sessions/sixtyninth_profile.sh
cuda_tests 200 cuda_tests_mma.log tests/kernels/test_triton_mma.py
case "$gpu" in
  *H200*) shipped=kernels/tuned/NVIDIA_H200.v8.json ;;
  *) shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json ;;
esac
timeout 120 python3 benchmarks/device/sessions/seventieth_kw16.py $shipped 4,8 2>&1 | grep -v Warn | grep -v refused | tail -8
python3 benchmarks/device/ship_best_variant.py kw16.json $shipped 2>&1 | tail -8
case "$gpu" in
  *H200*) one_task_table $((570 - SECONDS)) ;;
esac
