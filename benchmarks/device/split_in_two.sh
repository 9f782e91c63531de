# Here, after ../shared/tools/device-prep: the model in 2 halves of <= 50 MB (.device-carry/model2/half_aa, _ab)
# instead of 3 parts, so a quality run needs 2 consecutive device calls (each carrying one half + the wheels,
# ~55 MB with the working tree; the limit is 64 MiB). prep.sh collects halves like parts.
set -euo pipefail
mkdir -p .device-carry/model2
cat .device-carry/model/part_a? | split -b 50000000 - .device-carry/model2/half_
cp .device-carry/model/SHA256 .device-carry/model2/SHA256
cat .device-carry/model2/half_a? | sha256sum | awk '{print $1}' | diff - .device-carry/model2/SHA256 && echo "halves ok"
