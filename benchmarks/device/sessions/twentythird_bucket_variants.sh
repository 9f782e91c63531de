# Twenty-third session (~5 min): the autotuner's cols candidates at 16 tokens over 16 tasks with the new fold
# (FOLD_TILE 8), with the old per-code gathers, and with the new fold under a 128-register cap, gpr 1 and 4, three
# 7B shapes: does the new fold move the best candidate (the shipped choices were tuned with the gathers)?
source benchmarks/device/prep.sh >/dev/null
timeout 420 python3 benchmarks/bucket_cols_grid.py --out $OUT --variants 1 --budget-s 45 2>&1 | grep -v Warn \
  | tee $OUT/bucket_cols_variants_fold_tile_h200.log | tail -8
python3 - <<'PY'
import json, os
rows = json.load(open(os.environ["OUT"] + "/bucket_cols_variants.json"))["rows"]
for r in sorted(rows, key=lambda r: (r["N"], r["K"], r["gpr"], r["us"] or 1e9))[:]:
    print(r["N"], r["K"], r["gpr"], r["variant"], r["BLOCK_N"], r["BLOCK_K"], r["num_warps"], r["num_stages"],
          r["SPLIT_K"], r.get("QUADS"), r["us"] and round(r["us"], 1))
PY
