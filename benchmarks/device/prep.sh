# sourced at the start of every device call: wheels on PYTHONPATH, the model part(s) or half(s) collected in /root/m
mkdir -p /root/m && cp .device-carry/model/part_* .device-carry/model2/half_* /root/m/ 2>/dev/null
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site .device-carry/wheels/*.whl 2>&1 | tail -2
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
# the task datasets where the tests look for them (../shared/data/tasks), from carry_wheels.sh's copy
if [ -d .device-carry/tasks ] && [ ! -d ../shared/data/tasks ]; then
  mkdir -p ../shared/data && cp -r .device-carry/tasks ../shared/data/ 2>/dev/null
fi
ls -la /root/m
# assemble_model: /root/m/model.gguf from the 2 halves (split_in_two.sh) or the 3 parts, checked against SHA256
assemble_model() {
  if ls /root/m/half_ab >/dev/null 2>&1; then cat /root/m/half_a? > /root/m/model.gguf; else cat /root/m/part_a? > /root/m/model.gguf; fi
  sha256sum /root/m/model.gguf | awk '{print $1}' | diff - <(cat .device-carry/model*/SHA256 | head -1) && echo "model ok"
}
# drop_shipped PREFIX [FILE]: remove the shipped choices whose key starts with PREFIX (e.g. "prefill|") from this
# machine's copy of FILE (default the H200's, kernels/tuned/NVIDIA_H200.v8.json), so that those keys tune here (into
# $SKETCHSERVE_CACHE) with today's candidates
drop_shipped() {
  python3 - "$1" "${2:-kernels/tuned/NVIDIA_H200.v8.json}" <<'PY'
import json, pathlib, sys
p = pathlib.Path(sys.argv[2])
d = json.loads(p.read_text())
p.write_text(json.dumps({k: v for k, v in d.items() if not k.startswith(sys.argv[1])}))
PY
}
# install_triton39: Triton 3.9 first on PYTHONPATH, from the parts carry_triton39.sh made, copied to /root/t39 by
# earlier calls of this warm machine (or carried in this one); unpacked once
install_triton39() {
  mkdir -p /root/t39 && cp .device-carry/triton39/part_* /root/t39/ 2>/dev/null
  if [ ! -d /root/t39/site/triton ]; then
    cat /root/t39/part_a? > /root/t39/t39.tar.xz
    sha256sum /root/t39/t39.tar.xz | awk '{print $1}' | diff - .device-carry/triton39/SHA256 2>/dev/null && echo "triton 3.9 ok"
    mkdir -p /root/t39/site && python3 -c "import lzma, tarfile, sys; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" /root/t39/t39.tar.xz /root/t39/site
  fi
  # a carry packed before the fifty-first session still names the AMD backend it left out
  sed -i '/backends.amd/d' /root/t39/site/triton-3.9.0.dist-info/entry_points.txt
  # the carried Triton has no ptxas: the device's own Triton's (its ptxas-blackwell compiles sm_90 there)
  local own
  own=$(env -u PYTHONPATH python3 -c "import os, triton; print(os.path.dirname(triton.__file__))")/backends/nvidia/bin
  export TRITON_PTXAS_PATH=$own/ptxas
  export TRITON_PTXAS_BLACKWELL_PATH=$own/ptxas-blackwell
  [ -x "$TRITON_PTXAS_BLACKWELL_PATH" ] || export TRITON_PTXAS_BLACKWELL_PATH=$own/ptxas
  export PYTHONPATH=/root/t39/site:$PYTHONPATH
  # its own autotune cache: choices tuned under 3.9 must not serve a later call's Triton 3.6 runs on this machine
  # (fifty-first session: the kernel table's one-token row took a 3.9 choice)
  export SKETCHSERVE_CACHE=/root/t39/cache
  python3 -c "import triton; print('triton', triton.__version__)"
}
# cuda_tests SECONDS LOG PYTEST_ARGS...: pytest on this machine's GPU within SECONDS, nanobind's leak report at exit
# filtered out, the summary's last 2 lines printed and kept in $OUT/LOG
cuda_tests() {
  local seconds=$1 log=$2
  shift 2
  timeout "$seconds" python3 -m pytest -q -p no:cacheprovider "$@" 2>&1 \
    | grep -v 'leaked \(type\|function\)\|^nanobind: \|skipped remainder\|refleaks.html' | tail -2 | tee "$OUT/$log"
}
# one_task_table SECONDS: the kernel table's one-task decode rows (1, 4, 8, 16 tokens, the op told the batch's one
# task) with this machine's shipped choices, within SECONDS -> $OUT/kernels.{log,json,png}; prints the rows
one_task_table() {
  timeout "$1" python3 benchmarks/bench_kernels.py --out $OUT --phases decode --decode-cases 1:1,4:1,8:1,16:1 \
    --tell-tasks 2>&1 | grep -v -i "warn\|leaked\|nanobind\|skipped remainder\|refleaks" > $OUT/kernels.log
  grep -E "T= 1:" $OUT/kernels.log | cut -c1-112
}
# ship_won RESULTS SHIPPED SECONDS: each key's winning variant of a shipped_in_turns run ($OUT/RESULTS) shipped in
# this machine's copy of SHIPPED (ship_best_variant.py), then, if any won, one_task_table SECONDS with it
ship_won() {
  python3 benchmarks/device/ship_best_variant.py "$1" "$2" 2>&1 | tail -8
  if grep -q '"decode' "$OUT/${1%.json}_shipped.json" 2>/dev/null; then one_task_table "$3"; fi
}
