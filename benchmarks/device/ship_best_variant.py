"""After a shipped_in_turns script (bench_kernels.py) on the same machine: ship, in this machine's copy of the
shipped file, each key's fastest variant where it beat the shipped choice in the same turns by >= 2 % with its error
within the shipped choice's, so that a kernel table run next measures the bars with it. The local tree gets the
same edit from $OUT/<results>_shipped.json. argv[1]: the results file under $OUT (e.g. kw16.json); argv[2]: the
shipped file (default the H100's)."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_kernels import H100_SHIPPED, one_task_decode_key  # noqa: E402


def best_variants(rows: list[dict], margin: float = 0.98) -> dict[str, str]:
    """{key: label} of each row's fastest variant (not cuBLAS, not the shipped choice) that beat the shipped one
    (label "shipped") by the margin, its error within 1.5x the shipped one's plus 1e-3 (rows: shipped_in_turns's)."""
    won = {}
    for row in rows:
        us, err = row["us"], row["err"]
        timed = {label: t for label, t in us.items() if label not in ("cublas", "shipped") and t is not None
                 and err.get(label) is not None and err[label] <= 1.5 * err["shipped"] + 1e-3}  # fmt: skip
        if timed and min(timed.values()) <= margin * us["shipped"]:
            won[one_task_decode_key(row["M"], row["N"], row["K"], row["gpr"])] = min(timed, key=timed.get)
    return won


def main() -> None:
    out = Path(os.environ.get("OUT", "."))
    results = sys.argv[1]
    path = Path(sys.argv[2] if len(sys.argv) > 2 else H100_SHIPPED)
    shipped = json.loads(path.read_text())
    rows = json.loads((out / results).read_text())
    configs = {one_task_decode_key(r["M"], r["N"], r["K"], r["gpr"]): r["configs"] for r in rows}
    won = {key: configs[key][label] for key, label in best_variants(rows).items()}
    for key, cfg in won.items():
        print(f"shipped: {key} {shipped[key]} -> {cfg}")
    path.write_text(json.dumps(shipped | won, indent=1, sort_keys=True) + "\n")
    (out / results.replace(".json", "_shipped.json")).write_text(json.dumps(won, indent=1))
    print(len(won), "keys")


if __name__ == "__main__":
    main()
