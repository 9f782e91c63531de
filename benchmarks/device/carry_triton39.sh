# Run here (not on the device), from the repository root: Triton 3.9 for the device's Python 3.12, for the kernels
# that need it (kernels/gluon_decode_pairs.py: Gluon's inline_asm with shared-memory operands; the device has 3.6).
# Writes .device-carry/triton39/part_aa, part_ab and SHA256 (git-ignored): the wheel's NVIDIA part as a tar.xz of 42
# MiB in two parts, carried by two calls of one warm machine (the tree and both exceed a `run`'s 64 MiB);
# `source benchmarks/device/prep.sh && install_triton39` there unpacks it onto PYTHONPATH (~4 min here).
set -euo pipefail
dest=.device-carry/triton39
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 -d "$tmp" triton==3.9.0 2>&1 | grep -v "is ignored" || true
mkdir -p "$tmp/site"
# the AMD backend, CUPTI and the profiler are not needed on an H100/H200, nor its two ptxas (CUDA 12.9 and 13.4,
# 87 MB): install_triton39 points Triton 3.9 at the device's own Triton's ptxas, which its driver is known to run
# (Triton 3.9 then writes PTX 8.8, not 9.4; the pair-table kernel's sm_90 SASS checks pass with it here)
(cd "$tmp/site" && unzip -q "$tmp"/triton-3.9.0-cp312-*.whl -x 'triton/backends/amd/*' \
  'triton/backends/nvidia/bin/ptxas*' 'triton/backends/nvidia/lib/cupti*' 'triton/_C/libproton.so' \
  'triton/instrumentation/*' 'triton/plugins/*' 'triton/include/*' 'triton/FileCheck')
# its backends are found through the dist-info's entry points: with the AMD backend left out, so is its entry
# (else `import triton` fails on the missing triton.backends.amd: fifty-first session, first device call)
sed -i '/backends.amd/d' "$tmp"/site/triton-3.9.0.dist-info/entry_points.txt
# the wheel's libtriton.so carries its debug info: 500 MB, 192 MB stripped
strip --strip-unneeded "$tmp"/site/triton/_C/*.so
rm -rf "$dest" && mkdir -p "$dest"
(cd "$tmp/site" && tar cf - triton triton-3.9.0.dist-info) | xz -9 -T2 > "$tmp/triton39.tar.xz"
# 42 MiB in two parts of ~21: the tree (27 MB since the sixtieth sessions) and both no longer fit one run's 64 MiB,
# so one call carries part_aa and a later call of the same warm machine part_ab (install_triton39 keeps the parts in
# /root/t39 between calls and joins them)
(cd "$dest" && split -b 22000000 "$tmp/triton39.tar.xz" part_)
sha256sum "$tmp/triton39.tar.xz" | awk '{print $1}' > "$dest/SHA256"
ls -la "$dest"
