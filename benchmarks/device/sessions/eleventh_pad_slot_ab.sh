# Eleventh session (~1.5 min): the padding rows' slot, A/B on one machine (results/decode_host_time_b12_*): 12 requests
# of one task at gpr 1 (padded to 16) with the new runner, then with the old one (slot 0 padding), copied over it.
# Usage: git show 8e8575b:server/runner.py > scratch_ab/runner_pad0.py (untracked, not ignored: it travels), then
#        run this; delete scratch_ab afterwards.
source benchmarks/device/prep.sh >/dev/null
run() {
  timeout 110 python3 benchmarks/decode_host_time.py --gpr 1 --batch 12 --decode-steps $1 \
    > $OUT/decode_host_time_b12_steps$1_gpr1_$2_h200.log 2>&1
  echo "$2 steps=$1"; grep -E "^gpr|graphs in the run" $OUT/decode_host_time_b12_steps$1_gpr1_$2_h200.log
}
run 4 padslot
cp scratch_ab/runner_pad0.py server/runner.py
run 4 padslot0
run 1 padslot0
