# sixtyseventh_fold.sh for a short budget (~2 min): the fold variants at 4 and 8 tokens (each form checked against
# the reference by the timing script) and the winners shipped in this machine's copy; no CUDA tests, no table.
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
timeout 170 python3 benchmarks/device/sessions/sixtyseventh_fold.py $shipped 4,8 2>&1 | grep -v Warn | tail -12
python3 benchmarks/device/ship_best_variant.py fold.json $shipped 2>&1 | tail -6
