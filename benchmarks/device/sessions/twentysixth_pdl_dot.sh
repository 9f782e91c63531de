# Twenty-sixth session, second call (~6 min): which part of PDL slows batch 64 (64 x 1 7.55 -> 7.96 ms a graph,
# 64 x 4 19.35 -> 21.35, results/b64_*_twentysixth.log). Variants, each its own process, in turns (two rounds, the
# second in reverse order): shipped; SS_DOT_PDL=0 (the tensor-core register-LUT kernel launched without PDL, every
# other kernel with it); SS_EARLY_RELEASE=0 (the fused kernels release the next kernel at their exit, not their
# start); SKETCHSERVE_PDL=0. Points: bench_serving's decode_point at gpr 1, batches 1, 16, 32, 64 over 1 and 4 tasks
# (16 x 4 and 32 x 4 are the few-task / tensor-core classes), 32 new tokens.
source benchmarks/device/prep.sh >/dev/null
J=$OUT/pdl_dot_twentysixth.jsonl
cat > /tmp/ss26_pdl.py <<'PY'
import argparse, json, os, sys, tempfile, time
from pathlib import Path
import torch
sys.path.insert(0, os.getcwd()); sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import bench_serving as bs  # noqa: E402
from adapters.store import LutStore  # noqa: E402
ap = argparse.ArgumentParser(); ap.add_argument("--label"); ap.add_argument("--jsonl"); cli = ap.parse_args()
dev = torch.device("cuda")
args = argparse.Namespace(device=dev, prompt=128, new_tokens=32, ttft_prompt=512, short_prompt=32,
                          cuda_graph_max_batch=64, cpu_weight_dtype="float32", overlap_scheduling="auto",
                          decode_steps=bs.SchedulerConfig.decode_steps, bandwidth=4.25e12)
config = bs.llama2_7b_config(num_hidden_layers=32)
base = bs.random_base(config, 1, dev)
out = {"label": cli.label, "points": []}
with tempfile.TemporaryDirectory() as tmp:
    store = LutStore(Path(tmp) / "s", base.spec(), verify_on_open=False)
    tasks = [f"task{i}" for i in range(5)]
    bs.fill_store(base, store, tasks, Path(tmp))
    t0 = time.perf_counter()
    engine = bs.make_engine(base, store, args, num_slots=6, max_batch=64)
    print(f"[{cli.label}] start {time.perf_counter() - t0:.1f} s", flush=True)
    kv_token = bs.bytes_per_block(engine.model_config, 1, torch.float16)
    lm_head = base.dense.get("lm_head.weight", base.dense["model.embed_tokens.weight"])
    fixed, lut_bytes = base.codes_bytes() + lm_head.numel() * 2, engine.pool.lut_set_bytes
    floor_of = lambda n, b, ctx: (fixed + n * lut_bytes + b * ctx * kv_token) / args.bandwidth  # noqa: E731
    bs.warm_up(engine, tasks[:4])
    for batch in (1, 16, 32, 64):
        for n in (1, 4):
            if n > batch:
                continue
            p = bs.decode_point(engine, base, tasks[:n], batch, args, floor_of)
            out["points"].append(p)
            print(f"[{cli.label}] {batch} x {n}: {p['tok_per_s']:.1f} tok/s, step {p['step_ms']:.3f} ms", flush=True)
with open(cli.jsonl, "a") as f:
    f.write(json.dumps(out) + "\n")
PY
run() {  # label, env...
  local label=$1; shift
  [ $SECONDS -lt 500 ] || { echo "== $label skipped"; return; }
  env SKETCHSERVE_CACHE=/tmp/ss26p "$@" timeout $((560 - SECONDS)) python3 /tmp/ss26_pdl.py --label $label --jsonl $J \
    2>&1 | grep -v "Warn\|warn_once" | tee -a $OUT/pdl_dot_twentysixth.log | grep -E "start|x 4:|x 1:" | tr '\n' ' '; echo
}
for r in 1 2; do
  if [ $r = 1 ]; then order="shipped dot0 late pdl0"; else order="pdl0 late dot0 shipped"; fi
  for v in $order; do
    case $v in
      shipped) run shipped ;;
      dot0) run dot0 SS_DOT_PDL=0 ;;
      late) run late SS_EARLY_RELEASE=0 ;;
      pdl0) run pdl0 SKETCHSERVE_PDL=0 ;;
    esac
  done
done
python3 - <<'PY'
import json, os, statistics
rows = {}
for line in open(os.environ["OUT"] + "/pdl_dot_twentysixth.jsonl"):
    r = json.loads(line)
    for p in r["points"]:
        rows.setdefault((p["batch"], p["tasks"]), {}).setdefault(r["label"], []).append(p["step_ms"])
labels = ("shipped", "dot0", "late", "pdl0")
print("batch x tasks: " + "  ".join(f"{l:>16}" for l in labels) + "   (step ms, each round)")
for key in sorted(rows):
    print(f"{key[0]:>5} x {key[1]:<5}: " + "  ".join(f"{'/'.join(f'{v:.2f}' for v in rows[key].get(l, [])):>16}" for l in labels))
PY
