"""Sixty-fifth session: after sixtyfourth_push_ab.py on the same machine, ship PUSH in this machine's copy of the
shipped file on the keys where it won (>= 2 % faster than the shipped choice in the same turns, its error within
the shipped choice's), so that the kernel table run next (bench_kernels.py) measures the bars with it. The local
tree gets the same edit from $OUT/push_shipped.json. argv[1]: the shipped file (default the H100's)."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import H100_SHIPPED, one_task_decode_key  # noqa: E402

out = Path(os.environ.get("OUT", "."))
path = Path(sys.argv[1] if len(sys.argv) > 1 else H100_SHIPPED)
shipped = json.loads(path.read_text())
won = {}
for row in json.loads((out / "push_ab.json").read_text()):
    us, err = row["us"], row["err"]
    if us["push"] <= 0.98 * us["shipped"] and err["push"] <= 1.5 * err["shipped"] + 1e-3:
        key = one_task_decode_key(row["M"], row["N"], row["K"], row["gpr"])
        won[key] = shipped[key] | {"PUSH": 1}
        print(f"PUSH shipped: {key} {us['shipped']:.2f} -> {us['push']:.2f} us")
path.write_text(json.dumps(shipped | won, indent=1, sort_keys=True) + "\n")
(out / "push_shipped.json").write_text(json.dumps(won, indent=1))
print(len(won), "keys")
