# Written in the sixty-seventh session for the next one's first call (carry [".device-carry/wheels",
# ".device-carry/tasks"]; the device's Triton 3.6). On an H100: sixtyseventh_fold.sh (FOLD_TILE against the shipped
# KW choices, the KW 8 fragment form against the 16-token MODE 4 choices, the winners shipped in this machine's copy,
# the kernel table). On an H200 (none since the sixty-second session): sixtyfifth_first.sh's H200 branch (the PUSH
# CUDA tests, then sixtythird_d.sh: the 4/8-token one-task keys tuned on a fresh cache with today's candidates, KW
# among them, the cache under $OUT/cache for ship_choices.py, and the kernel table).
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in
  *H200*) bash benchmarks/device/sessions/sixtyfifth_first.sh ;;
  *) bash benchmarks/device/sessions/sixtyseventh_fold.sh ;;
esac
