# Twentieth session (~2 min): LUT loads with the store's per-chunk checksums (adapters/store.py, 8 MiB chunks on up
# to 16 threads), gpr 4 (174 MB: 179-182 ms a load in the nineteenth session, its SHA-256 ~190 ms) and gpr 1.
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
nproc
for gpr in 4 1; do
  timeout 150 python3 benchmarks/lut_load.py --gpr $gpr --tasks 4 --out $OUT 2>&1 | tee $OUT/lut_load_gpr${gpr}_h200_chunked.log | grep -v Warn
done
