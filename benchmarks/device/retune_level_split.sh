# Written in the fortieth session, for after `fortyfirst_first.sh` (~7 min a call): if bucket_level_split.py shows
# LEVEL_SPLIT winning, the bucket keys of ${1:-32} tokens (gpr 1 and 4, the five 7B shapes) tuned again with every
# LEVEL_SPLIT candidate among the op's (LEVEL_SPLIT_ALL=1), each key's old and new choice timed in turns; then
# serving at batch ${1:-32} over 16 tasks, gpr 1 and 4, with the re-tuned choices (a user cache over the shipped
# file). Run with 32, then 64. Then list the winners in LEVEL_SPLIT_OP_CANDIDATES and merge the keys that won by
# > 2 % into kernels/tuned/NVIDIA_H200.v8.json.
LEVEL_SPLIT_ALL=1 bash benchmarks/device/retune_one_fold.sh "${1:-32}" level_split
