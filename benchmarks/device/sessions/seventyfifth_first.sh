# Seventy-fifth session, one call (any kind, carry .device-carry/wheels, <= 570 s): seventyfourth_next.sh's capped
# AHEAD 4 timing and shipping (the kernel table, if a key won, within 150 s), then the op as served at 1-16 tokens
# (seventyfifth_as_served.sh) in the time left.
TABLE_SECONDS=150 bash benchmarks/device/sessions/seventyfourth_next.sh
left=$((565 - SECONDS))
if [ "$left" -gt 40 ]; then bash benchmarks/device/sessions/seventyfifth_as_served.sh "$left"; fi
