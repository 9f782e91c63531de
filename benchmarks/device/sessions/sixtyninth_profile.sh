# Sixty-ninth session (H100 or H200, the device's Triton 3.6, carry .device-carry/wheels and tasks; ~3 min): why
# wider chunks and more chunks ahead lose at 4 tokens on 4096x4096 gpr 1. PRELOAD with KW (one 512-column chunk a
# warp) lost 31-51 % and WPL 8 lost 12 % to the shipped KW 8 form (WPL 4, AHEAD 2, W16), AHEAD 3 7 %. Two causes
# fit: no loads in flight behind a wide chunk's lookups, or the wider chunk's longer unrolled code (instruction
# fetch: the "no instruction" stall). Nsight Compute on the shipped form, WPL 8 and AHEAD 3 (each with W16), every
# stall reason per issued instruction; -> $OUT/ncu_{ship,wpl8,ahead3}.tgz and a stall table printed.
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
base='"MODE": 5, "ROWS": 1, "SPLIT_K": 1, "num_warps": 8, "KW": 8, "W16": 1, "EARLY": 1'
for form in ship wpl8 ahead3; do
  case $form in
    ship) cfg="{$base, \"WPL\": 4, \"AHEAD\": 2}" ;;
    wpl8) cfg="{$base, \"WPL\": 8, \"AHEAD\": 2}" ;;
    ahead3) cfg="{$base, \"WPL\": 4, \"AHEAD\": 3}" ;;
  esac
  timeout 120 $NCU -k regex:_decode_mma_kernel --launch-skip 1 --launch-count 1 --section SpeedOfLight \
    --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
    --section InstructionStats --section SourceCounters --import-source no \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio',sm__inst_executed.sum \
    -f -o $OUT/$form python3 benchmarks/profile_shipped.py --m 4 --decode-config "$cfg" 2>&1 | grep -v Warn | tail -1
  $NCU -i $OUT/$form.ncu-rep --page details > $OUT/${form}_details.txt 2>&1
  $NCU -i $OUT/$form.ncu-rep --page raw --csv > $OUT/${form}_raw.csv 2>&1
  rm -f $OUT/$form.ncu-rep
  tar czf $OUT/ncu_$form.tgz -C $OUT ${form}_details.txt ${form}_raw.csv
  echo "== $form"; grep -E "Duration|Registers Per|Issued Warp|Warp Cycles Per Issued|Executed Instructions  " \
    $OUT/${form}_details.txt | head -6
done
python3 - "$OUT" <<'PY'
import csv, sys
from pathlib import Path
out = Path(sys.argv[1])
forms, stalls = ("ship", "wpl8", "ahead3"), {}
for form in forms:
    rows = list(csv.reader((out / f"{form}_raw.csv").open()))
    head = next(r for r in rows if "Kernel Name" in r)  # (past any lines ncu prints before the table)
    vals = rows[-1]
    for name, v in zip(head, vals):
        if name.startswith("smsp__average_warps_issue_stalled_") and name.endswith("_per_issue_active.ratio"):
            reason = name[len("smsp__average_warps_issue_stalled_"):-len("_per_issue_active.ratio")]
            stalls.setdefault(reason, {})[form] = float(v.replace(",", "") or 0)
print("stall (cycles an issued instruction)", *forms, sep=" | ")
for reason, by in sorted(stalls.items(), key=lambda kv: -kv[1].get("ship", 0)):
    if max(by.values()) >= 0.05:
        print(reason, *(f"{by.get(f, 0):.2f}" for f in forms), sep=" | ")
PY
rm -f $OUT/*_details.txt $OUT/*_raw.csv
