# Seventieth session, second of two calls on one warm H100 (the first carried .device-carry/triton39/part_aa into
# /root/t39; this one carries part_ab, SHA256 and the wheels; ~3 min): under Triton 3.9, Nsight Compute on the two
# 4-token lookups on 4096x4096 gpr 1, which tie in the kernel table (9.3 against 9.5 us): the pair-table kernel (the
# op's shipped choice there, one shared-memory load a byte of codes) and the fragment kernel's shipped KW 8 form
# (byte permutes on the ALU pipe). Question: what bounds the pair kernel (the shared pipe, its bank conflicts, or
# latency), so whether a mix of the two lookups could use both pipes at once. -> $OUT/ncu_{pairs,frag}_t39.tgz and a
# table of pipes, bank conflicts and stall reasons.
source benchmarks/device/prep.sh >/dev/null
install_triton39
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$NCU" ] || exit 3
frag='{"MODE": 5, "ROWS": 1, "SPLIT_K": 1, "num_warps": 8, "KW": 8, "W16": 1, "EARLY": 1, "WPL": 4, "AHEAD": 2}'
for form in pairs frag; do
  case $form in
    pairs) kernel=_decode_pairs_kernel; extra=() ;;
    frag) kernel=_decode_mma_kernel; extra=(--decode-config "$frag") ;;
  esac
  timeout 150 $NCU -k regex:$kernel --launch-skip 1 --launch-count 1 --section SpeedOfLight \
    --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats \
    --section InstructionStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio',sm__inst_executed.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,smsp__inst_executed_op_shared_ld.sum,sm__pipe_alu_cycles_active.avg.pct_of_peak_sustained_active,sm__pipe_shared_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_lsu.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum \
    -f -o $OUT/$form python3 benchmarks/profile_shipped.py --m 4 --tasks 1 "${extra[@]}" 2>&1 | grep -v Warn | tail -2
  $NCU -i $OUT/$form.ncu-rep --page details > $OUT/${form}_details.txt 2>&1
  $NCU -i $OUT/$form.ncu-rep --page raw --csv > $OUT/${form}_raw.csv 2>&1
  rm -f $OUT/$form.ncu-rep
  tar czf $OUT/ncu_${form}_t39.tgz -C $OUT ${form}_details.txt ${form}_raw.csv
  echo "== $form"; grep -E "Duration|Registers Per|Issued Warp|Warp Cycles Per Issued|Executed Instructions  |Bank" \
    $OUT/${form}_details.txt | head -10
done
rm -f $OUT/*_details.txt $OUT/*_raw.csv
