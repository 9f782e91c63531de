"""A config grid's best against the op and cuBLAS, per case, from an `mma_grid.py` run (any --kernel).

    python3 benchmarks/plot_grid.py RUN.json [RUN.json ...]

For each case of the run (projection shape, tokens, tasks): the grid kernel's fastest config, the op as the run
timed it (its shipped choice) and cuBLAS fp16, as grouped bars in microseconds with the grid's best over cuBLAS
written above its bar. Writes RUN.png next to each RUN.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REFERENCES = ("op", "cublas", "op_one_task")  # op_one_task: pairs_decode.py's op told the batch's task count


def best_per_case(run: dict) -> list[dict]:
    """[{"case": (N, K, M, tasks), "grid": us or None, "op": us, "cublas": us}] in the run's order of cases."""
    cases: dict[tuple, dict] = {}
    for row in run["rows"]:
        key = (row["N"], row["K"], row["M"], row["tasks"])
        case = cases.setdefault(key, {"case": key, "grid": None})
        if row["kind"] in REFERENCES:
            case[row["kind"]] = row["us"]
        elif row["us"] and (case["grid"] is None or row["us"] < case["grid"]):
            case["grid"] = row["us"]
    return list(cases.values())


def plot(run_path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = json.loads(run_path.read_text())
    kind = next(r["kind"] for r in run["rows"] if r["kind"] not in REFERENCES)
    cases = best_per_case(run)
    labels = [f"{n}x{k}\n{m} tok, {t} task{'s' if t > 1 else ''}" for n, k, m, t in (c["case"] for c in cases)]
    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(cases)), 4.5))
    bars = [("grid", kind), ("op", "op (shipped choice)"), ("cublas", "cuBLAS fp16")]
    if any(c.get("op_one_task") for c in cases):
        bars.insert(2, ("op_one_task", "op told the one task"))
    width = 0.8 / len(bars)
    for i, (name, label) in enumerate(bars):
        xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(cases))]
        ax.bar(xs, [c.get(name) or 0 for c in cases], width, label=label)
    for j, c in enumerate(cases):
        if c["grid"] and c.get("cublas"):
            at = (j - (len(bars) - 1) / 2 * width, c["grid"])  # above the grid's bar, the first
            ax.annotate(f"{c['cublas'] / c['grid']:.2f}x", at, ha="center", va="bottom", fontsize=7)
        print(f"{labels[j].replace(chr(10), ' ')}: {kind} {c['grid'] or float('nan'):.1f} us, "
              f"op {c.get('op') or float('nan'):.1f}, cuBLAS {c.get('cublas') or float('nan'):.1f}")  # fmt: skip
    ax.set_xticks(range(len(cases)), labels, fontsize=7)
    ax.set_ylabel("us per call (CUDA graph, L2 cold)")
    ax.set_title(f"{kind} grid's best against the op and cuBLAS ({run.get('gpu', '?')}, gpr {run['rows'][0]['gpr']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = run_path.with_suffix(".png")
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+")
    for path in ap.parse_args().runs:
        print("wrote", plot(path))


if __name__ == "__main__":
    main()
