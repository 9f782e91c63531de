# Sixty-sixth session (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6; H100 or
# H200, both take the H100's choices): the register cap's CUDA tests, then sixtysixth_push_maxnreg.py (the shipped
# split-8 choices capped at 80 registers, with and without PUSH, and at split 12 / 16), then each key's fastest
# variant shipped in this machine's copy where it won (ship_best_variant.py) and, if any did, the kernel table's
# one-task decode rows with it (on an H100 only).
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py -k register_cap 2>&1 | tail -1
timeout 300 python3 benchmarks/device/sessions/sixtysixth_push_maxnreg.py $shipped ${TOKENS:-4,8,16} 2>&1 | grep -v Warn | tail -32
case "$gpu" in *H200*) exit 0 ;; esac  # the variants are the H100's choices' (the H200's file has older ones)
ship_won push_maxnreg.json $shipped $((540 - SECONDS))
