# Sixty-seventh session, second run (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton
# 3.6; timed against the H100's shipped choices, KW on six keys since the first run): W16's CUDA tests, then
# sixtyseventh_next.py at 4 and 8 tokens (W16, AHEAD 3, WPL 8 on the KW choices; KW 2 on the 2-warp split-K ones),
# each key's fastest variant shipped in this machine's copy where it won by 2 %, and the kernel table's one-task rows
# if any did; then Nsight Compute on the 4-token KW choice (sixtyseventh_profile_4tok.sh, its files in one archive).
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); echo "$gpu"
cuda_tests 150 cuda_tests_w16.log tests/kernels/test_triton_mma.py -k "split_along_k or lane_order"
timeout 240 python3 benchmarks/device/sessions/sixtyseventh_next.py $shipped ${TOKENS:-4,8} 2>&1 | grep -v Warn | tail -30
if [[ "$gpu" != *H200* ]]; then ship_won kw_next.json $shipped 100; rm -f $OUT/kernels.json; fi
FORMS="4kw" timeout $((585 - SECONDS)) bash benchmarks/device/sessions/sixtyseventh_profile_4tok.sh 2>&1 | tail -8
