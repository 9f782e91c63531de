# Eighteenth session, last ~3 device minutes: the few-task class at gpr 4 (the grid ran gpr 1 only; the class is on at
# every gpr). The fragment kernel's best against the op's one-task choice and the bucket kernel, 16 rows over 2 and 4
# tasks and 8 over 4, the server's four shapes. Prediction: the fragment kernel stays ahead (the bucket kernel is
# ~40 % slower at gpr 4 than at gpr 1, the fragment kernel's per-group tables cost little at one chunk a program).
source benchmarks/device/prep.sh >/dev/null
timeout 170 python3 benchmarks/mma_grid.py --kernel mma_tasks --gpr 4 --cases 16x4,16x2,8x4 --budget-s 45 --out $OUT \
  2>&1 | grep -v Warning | tee $OUT/mma_tasks_grid_gpr4_h200.log
