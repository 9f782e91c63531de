# Fifty-fourth session's call (H100, carry [".device-carry/triton39/part_aa", ".device-carry/triton39/SHA256"]):
#   bash benchmarks/device/sessions/fiftyfourth_next.sh
# The one-task decode rows still short of the 2.5x bar with the pair kernel on by default: 4 tokens (4096x4096 gpr 1:
# 9.2 us, 2.14x, against 7.4 at one token and 11.3 at 16) and gpr 4 (9.2 / 15.4 / 14.0 us at 1 / 4 / 16 tokens,
# 2.06 / 1.28 / 1.36x). The pair kernel's candidates and staged-x entries at 1, 4 and 16 tokens, gpr 1 then gpr 4,
# on 4096x4096, beside the op told the batch's one task (op_one_task) and cuBLAS: $OUT/pairs_grid_gpr{1,4}.{json,log}.
# Question: does the pair kernel at 4 tokens cost what it costs at one (its 8-token MMA tile computes 8 columns of
# tokens either way), and does XSTAGE carry over to gpr 4 (four tables a row, each built per group)?
nvidia-smi --query-gpu=name --format=csv,noheader
CASES=1x1,4x1,16x1 GRID_S=160 BUDGET=10 LISTS=candidates,staged_x bash benchmarks/device/sessions/fortyninth_pairs.sh "1 4" 4096x4096
