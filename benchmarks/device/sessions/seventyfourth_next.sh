# Written in the seventy-fourth session for the next device call (one call, any kind; ~6 min): AHEAD 4 under a
# register cap at 8 and 16 tokens (seventyfourth_ahead4_capped.py) -> ahead4_capped.json; ship_won it into this
# machine's copy of its GPU's shipped file and, if any won, the kernel table.
source benchmarks/device/prep.sh >/dev/null
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
echo "$gpu"
timeout 330 python3 benchmarks/device/sessions/seventyfourth_ahead4_capped.py 8,16 1,4 2>&1 | grep "tokens" | cut -c1-190
case "$gpu" in
  *H100*) ship_won ahead4_capped.json kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json $((570 - SECONDS)) ;;
  *H200*) ship_won ahead4_capped.json kernels/tuned/NVIDIA_H200.v8.json $((570 - SECONDS)) ;;
esac
