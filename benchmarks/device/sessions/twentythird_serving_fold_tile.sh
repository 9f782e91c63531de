# Twenty-third session (~8 min): serving 16 x 16 (random 7B-shaped sketch, 32 layers) with the bucket kernel's fold
# from 8-entry LUT tiles (FOLD_TILE_DEFAULT 8) against the per-code gathers (0), gpr 4 and 1, one cache per gpr so
# both sides take the same tuned choices. Kernel A/B (choice_ab_bucket_m16_fold_tile_h200.log): gpr 4 1.08-1.53x,
# gpr 1 0.98-1.03x. Prediction: gpr 4 ~960 -> ~1,250 tok/s; gpr 1 ~1,334 -> ~1,350.
source benchmarks/device/prep.sh >/dev/null
for gpr in 4 1; do
  for fold in 0 8; do
    SKETCHSERVE_CACHE=/tmp/ss_gpr$gpr timeout 280 python3 -c "
import sys, runpy
sys.path.insert(0, '.')
import kernels.triton_bucket as b
b.FOLD_TILE_DEFAULT = $fold
sys.argv = ['bench_serving.py', '--gpr', '$gpr', '--batches', '16', '--tasks', '16', '--new-tokens', '64',
            '--out', '$OUT/serving_fold$fold']
runpy.run_path('benchmarks/bench_serving.py', run_name='__main__')
" 2>&1 | grep -v Warn > $OUT/serving_h200_fold_tile${fold}_gpr${gpr}.log
    echo "== gpr $gpr FOLD_TILE_DEFAULT $fold"; grep -i 'tok/s' $OUT/serving_h200_fold_tile${fold}_gpr${gpr}.log | head -4
  done
done
