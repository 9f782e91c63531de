# Nineteenth session (~1.5 min): LUT loads with the checksum beside the parse and staging, at gpr 4 (174 MB: 310-356
# ms a load before, SHA-256 187 ms of it) and gpr 1 (98-133 ms before).
source benchmarks/device/prep.sh >/dev/null
set -o pipefail
for gpr in 4 1; do
  timeout 150 python3 benchmarks/lut_load.py --gpr $gpr --tasks 4 --out $OUT 2>&1 | tee $OUT/lut_load_gpr${gpr}_h200_hash_beside.log | grep -v Warn
done
