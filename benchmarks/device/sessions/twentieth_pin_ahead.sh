# Twentieth session (~2 min): LUT loads once the pool has pinned its CPU tier's buffers ahead (adapters/pool.py
# pin_ahead). Before (twentieth_lut_load.sh): gpr 4 pool loads 55 / 232 / 157 / 164 ms (the first in a buffer the
# caching host allocator kept from the staging phase), gpr 1 35 / 78 / 73 / 74 ms.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for gpr in 4 1; do
  timeout 150 python3 benchmarks/lut_load.py --gpr $gpr --tasks 4 --out $OUT 2>&1 | tee $OUT/lut_load_gpr${gpr}_h200_pin_ahead.log | grep -v Warn
done
timeout 200 python3 -m pytest -q tests/adapters 2>&1 | tail -3
