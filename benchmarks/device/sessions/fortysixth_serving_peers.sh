# Written in the forty-fifth session for the next (~7 min). 1. The load stream's priority (as
# sessions/fortyfifth_load_priority.sh: the int8 mode's mean LUT load was 92 ms against 29 exact). Since the
# forty-sixth session a new version's slot goes ready before its distance is measured (its steps exact until then),
# so the loads should be back near 29 ms at either priority; the priority now sets "then its distance N ms" (ready to
# measured). 2. The serving table as the server serves by default (the int8 activation mode) with the peers
# in the same run (HF transformers fp16 generate, peft with 4 LoRA adapters mixed in the batch; last measured in the
# seventh session), gpr 1, then gpr 4 without them. Set LOAD_STREAM_PRIORITY's default from step 1 if it helped.
source benchmarks/device/prep.sh >/dev/null
bash benchmarks/device/sessions/fortyfifth_load_priority.sh
for g in 1 4; do
  mkdir -p $OUT/gpr$g
  timeout 240 python3 benchmarks/bench_serving.py --out $OUT/gpr$g --gpr $g --bandwidth 4.25e12 --memory-gb 139 \
    $([ $g = 1 ] && echo --peers) 2>&1 | grep -v "Warn\|warn_once" | tee $OUT/serving_peers_gpr$g.log \
    | grep "peers:\|batch=\|TTFT 512\|residency"
done
