# Run here (not on the device), from the repository root: Triton 3.9 for the device's Python 3.12, for the kernels
# that need it (kernels/gluon_decode_pairs.py: Gluon's inline_asm with shared-memory operands; the device has 3.6).
# Writes .device-carry/triton39/part_a? (git-ignored), the wheel's NVIDIA part as a tar.xz in two parts of 26 MiB (one
# `run` carries at most 64 MiB): carry one part a run while the machine stays warm, copying each to /root/t39/;
# then `source benchmarks/device/prep.sh && install_triton39` unpacks them onto PYTHONPATH (~100 MB, ~2 min here).
set -euo pipefail
dest=.device-carry/triton39
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 -d "$tmp" triton==3.9.0 2>&1 | grep -v "is ignored" || true
mkdir -p "$tmp/site"
# the AMD backend, Blackwell's ptxas, CUPTI and the profiler are not needed on an H100/H200
(cd "$tmp/site" && unzip -q "$tmp"/triton-3.9.0-cp312-*.whl -x 'triton/backends/amd/*' \
  'triton/backends/nvidia/bin/ptxas-blackwell' 'triton/backends/nvidia/lib/cupti*' 'triton/_C/libproton.so' \
  'triton/instrumentation/*' 'triton/plugins/*' 'triton/include/*' 'triton/FileCheck')
# the wheel's libtriton.so carries its debug info: 500 MB, 192 MB stripped (the parts then fit two runs, not three)
strip --strip-unneeded "$tmp"/site/triton/_C/*.so
rm -rf "$dest" && mkdir -p "$dest"
(cd "$tmp/site" && tar cf - triton triton-3.9.0.dist-info) | xz -9 -T2 > "$tmp/triton39.tar.xz"
split -b 26M "$tmp/triton39.tar.xz" "$dest/part_"
sha256sum "$tmp/triton39.tar.xz" | awk '{print $1}' > "$dest/SHA256"
ls -la "$dest"
