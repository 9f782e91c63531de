# Sixty-eighth session, for a short device budget (carry [".device-carry/wheels", ".device-carry/tasks"]; the
# device's Triton 3.6): sixtyseventh_fold.py at 4 and 8 tokens (FOLD_TILE against the shipped KW choices, each form
# checked against the reference), the winners shipped in this machine's copy, then the kernel table's one-task rows
# with whatever is left of LIMIT seconds (default 420).
source benchmarks/device/prep.sh >/dev/null
shipped=kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
timeout 170 python3 benchmarks/device/sessions/sixtyseventh_fold.py $shipped 4,8 2>&1 | grep -v Warn | tail -12
ship_won fold.json $shipped $((${LIMIT:-420} - SECONDS))
