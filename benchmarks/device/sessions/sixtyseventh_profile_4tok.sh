# Sixty-seventh session (H100 or H200, the device's Triton 3.6, carry .device-carry/wheels and tasks; ~2 min): where
# the 4-token kernel's warps wait. Nsight Compute on the shipped 4-token 4096x4096 gpr 1 choice (8 warps, split 8,
# AHEAD 2, EARLY) and on the one-token op choice (the same lookups a weight, ~27 % faster a call): every stall
# reason per issued instruction and the per-SASS-instruction stall samples (source page CSV). The sixty-sixth
# session's profile had only the L1TEX stall (2.9 of 9.5 cycles between a warp's instructions).
# KW 8 (sixtyseventh_kw.py) the same way. FORMS: which (default "4 4kw 1"). -> $OUT/ncu_m{4,4kw,1}.tgz (details,
# raw metrics and the source page of each: one file a form, the device returns few files)
source benchmarks/device/prep.sh >/dev/null
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
nvidia-smi --query-gpu=name --format=csv,noheader | head -1
m4='{"AHEAD": 2, "EARLY": 1, "MODE": 5, "ROWS": 1, "SPLIT_K": 8, "WPL": 4, "num_warps": 8}'
kw='{"AHEAD": 2, "EARLY": 1, "MODE": 5, "ROWS": 1, "SPLIT_K": 1, "WPL": 4, "num_warps": 8, "KW": 8}'
for m in ${FORMS:-4 4kw 1}; do
  case $m in
    4) args=(--m 4 --decode-config "$m4"); k=_decode_mma_kernel ;;
    4kw) args=(--m 4 --decode-config "$kw"); k=_decode_mma_kernel ;;
    *) args=(--m 1); k=_decode_prmt_kernel ;;
  esac
  timeout 150 $NCU -k regex:$k --launch-skip 1 --launch-count 1 --section SpeedOfLight --section Occupancy \
    --section LaunchStats --section WarpStateStats --section SchedulerStats --section InstructionStats \
    --section SourceCounters --import-source no \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio',sm__inst_executed.sum,smsp__cycles_active.avg,sm__cycles_elapsed.avg \
    -f -o $OUT/m$m python3 benchmarks/profile_shipped.py "${args[@]}" 2>&1 | grep -v Warn | tail -2
  $NCU -i $OUT/m$m.ncu-rep --page details > $OUT/m${m}_details.txt 2>&1
  $NCU -i $OUT/m$m.ncu-rep --page raw --csv > $OUT/m${m}_raw.csv 2>&1
  $NCU -i $OUT/m$m.ncu-rep --page source --csv --print-source sass > $OUT/m${m}_source.csv 2>&1
  rm -f $OUT/m$m.ncu-rep
  tar czf $OUT/ncu_m$m.tgz -C $OUT m${m}_details.txt m${m}_raw.csv m${m}_source.csv && rm -f $OUT/m${m}_*.{txt,csv}
  echo "== m$m"; tar xzf $OUT/ncu_m$m.tgz -O m${m}_details.txt | grep -E "Duration|Registers Per|Achieved Occupancy|Issued Warp|Warp Cycles Per Issued" | head
done
