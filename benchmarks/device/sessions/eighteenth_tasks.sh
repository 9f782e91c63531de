# Eighteenth session (~5 min): the fragment kernel's CUDA tests (PRELOAD's WPL 2 now compiles on Triton 3.6), then
# the fragment kernel (PRELOAD's winners and the shipped candidates) at 4-16 tokens over 2-8 tasks against the op's
# gather and bucket classes on the server's four shapes (gpr 1): is a class of its own between them worth it? From
# the first PRELOAD grid: 16 tokens over 4 tasks 28.6 us at 4096x4096 against 38.1 (gather class) and ~35.5
# (bucket, README); prediction: the fragment kernel wins at 2-6 tasks by 15-30 %, the bucket kernel from ~8.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/kernels/test_triton_mma.py 2>&1 | tail -2
timeout 420 python3 benchmarks/mma_grid.py --kernel mma_tasks --gpr 1 --budget-s 250 --out $OUT 2>&1 \
  | grep -v Warning | tee $OUT/mma_tasks_grid_gpr1_h200.log
