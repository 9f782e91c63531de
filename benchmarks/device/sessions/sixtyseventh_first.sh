# Sixty-seventh session, first call (carry [".device-carry/wheels", ".device-carry/tasks"]; the device's Triton 3.6).
# On an H200 (none since the sixty-second session): sixtyfifth_first.sh's H200 branch (the PUSH CUDA tests, then
# sixtythird_d.sh: its 4/8-token one-task keys re-tuned with the AHEAD candidates, the cache back under $OUT/cache for
# ship_choices.py, and the kernel table's one-task rows). On an H100: sixtysixth_first.sh at 16 tokens only (the
# register cap's CUDA tests, the 16-token capped and PUSH variants, shipped in this machine's copy where they won).
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$gpu" in
  *H200*) bash benchmarks/device/sessions/sixtyfifth_first.sh ;;
  *) TOKENS=16 bash benchmarks/device/sessions/sixtysixth_first.sh ;;
esac
