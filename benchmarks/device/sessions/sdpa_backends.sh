# One device call (~1 min): SDPA backends' first-call (per-shape plan) and warm cost on prefill shapes, 7B heads
# (32/32, hd 128) and the default model's (9/3, hd 64).
source benchmarks/device/prep.sh
timeout 120 python3 benchmarks/sdpa_backends.py 2>&1 | tee $OUT/sdpa_7b.log
timeout 120 python3 benchmarks/sdpa_backends.py --heads 9 --kv-heads 3 --head-dim 64 2>&1 | tee $OUT/sdpa_smol.log
