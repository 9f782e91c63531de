# One device call (~1.5 min): the parts of one 7B layer as graph rows against the eager step (graph_rows_parts.py).
source benchmarks/device/prep.sh
timeout 150 python3 benchmarks/graph_rows_parts.py 2>&1 | tee $OUT/graph_rows_parts.log | grep -v Warn
