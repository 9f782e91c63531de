"""Sixty-second session: the H100's one-task decode keys at 4 and 16 tokens tuned again with the fragment kernel's
AHEAD candidates (kernels/triton_decode_mma.py MMA_CANDIDATES), and each key's shipped and new choice timed in
turns with cuBLAS (graph replays, L2 flushed by rotating copies), checked against the reference.

Run with SKETCHSERVE_CACHE=DIR (empty) and SKETCHSERVE_SHIPPED_TUNING=0, so that every key tunes here; argv[1]: the
shipped JSON (kernels/tuned/<gpu>.v8.json); argv[2]: the token counts (default 4,16; a key the shipped file lacks is
timed new against cuBLAS only). Writes $OUT/retune_sixtysecond.json; the device's cache file (DIR/autotune/
<gpu>.v8.json) holds the new choices for benchmarks/device/ship_choices.py.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench_kernels import BITS, checked_launch, cublas_fns, layers, make_batch, rotating, turns_us  # noqa: E402

from kernels import autotune  # noqa: E402
from kernels.reference import lut_linear_reference  # noqa: E402
from kernels.triton_decode import launch_decode  # noqa: E402
from kernels.triton_ops import lut_linear_forward  # noqa: E402


def main() -> None:
    shipped = json.loads(Path(sys.argv[1]).read_text())
    rows = []
    for n, k, gpr, layer in layers():
        for m in map(int, (sys.argv[2] if len(sys.argv) > 2 else "4,16").split(",")):
            x, slots = make_batch(m, 1, k)
            before = set(autotune._MEMORY)
            lut_linear_forward(x, layer.codes[0], layer.pools[0], slots, BITS)  # tunes this key
            keys = [e for e in set(autotune._MEMORY) - before if e.startswith(f"decode|{m},{n},{k},")]
            if len(keys) != 1:
                print(f"{m} tokens {n}x{k} gpr {gpr}: tuned {sorted(set(autotune._MEMORY) - before)}", flush=True)
                continue
            key = keys[0]
            new, old = autotune._MEMORY[key], shipped.get(key)
            ref = lut_linear_reference(x, layer.codes[0], layer.pools[0], slots, BITS)
            launches = {"cublas": rotating(cublas_fns(layer, x))}
            launches["new"], err = checked_launch(launch_decode, layer, x, slots, ref, new)
            if old is not None:
                launches["old"], _ = checked_launch(launch_decode, layer, x, slots, ref, old)
            us = turns_us(launches, rounds=5)
            rows.append({"key": key, "old": old, "new": new, "us": us, "err": err})
            cub = us["cublas"]
            old_part = f"old {us['old']:.2f} ({cub / us['old']:.2f}x) " if old else "no old "
            print(f"{key}: cuBLAS {cub:.2f} us | {old_part}| new {us['new']:.2f} ({cub / us['new']:.2f}x), "
                  f"err {err:.1e} | old {old} | new {new}", flush=True)  # fmt: skip
    out = Path(os.environ.get("OUT", "."))
    (out / "retune_sixtysecond.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
