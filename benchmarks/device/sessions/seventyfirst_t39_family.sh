# Seventy-first session, second of two calls on one warm H100 (carries part_ab, SHA256 and the wheels): under Triton
# 3.9, the 16-token one-task decode family ("one": now the fragment kernel's KW 8 / split-K forms with W16, re-tuned
# under 3.6 this session; "pairs": the pair-table kernel) re-decided on the six 16-token keys, then the kernel
# table's one-task rows as served under 3.9. -> $OUT/kernels.{log,json,png}, $OUT/autotune_t39.json
source benchmarks/device/prep.sh >/dev/null
install_triton39
drop_shipped "decode_family|16," kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json
one_task_table $((560 - SECONDS))
cat $SKETCHSERVE_CACHE/autotune/*.json > $OUT/autotune_t39.json 2>/dev/null
grep -o '"decode_family[^}]*}' $OUT/autotune_t39.json
