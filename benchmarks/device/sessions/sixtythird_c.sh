# Sixty-third session, third call (~5 min, H100, carry .device-carry): the shipped 4- and 8-token choices against
# half their split-K with AHEAD 3, each with EARLY (sixtythird_split.py); the one-token BN 4 x 2 warps against BN 8 x
# 4 warps a second time (sixtysecond_one_token.py: 1-3 % in the first call, at the 2 % threshold).
source benchmarks/device/prep.sh >/dev/null
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 300 python3 benchmarks/device/sessions/sixtythird_split.py 2>&1 | grep -v -i warn | tail -12
timeout 200 python3 benchmarks/device/sessions/sixtysecond_one_token.py 2>&1 | grep -v -i warn | tail -5
