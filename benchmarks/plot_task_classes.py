"""A layer's decode time by distinct tasks for each decode kernel class, from `mma_grid.py --kernel mma_tasks` runs.

    python3 benchmarks/plot_task_classes.py RUN.json [RUN.json ...]

For each token count (rows) of a run, the script sums over the run's projection shapes (a layer's q/k/v, o, gate/up
and down calls):
- the op's one-task choice,
- the bucket kernel,
- the fragment kernel's best (the few-task class).
It plots them against the number of distinct tasks, with the op's class boundaries (kernels/triton_ops.py
task_classes) marked. It writes RUN.png next to each RUN.json and prints the sums.

Runs written before the grid kept the fragment kernel on inside the op (no "op_fragment" field: the eighteenth
session's) timed the op's default config wherever the shipped one-task choice is the fragment kernel. For those, the
one-task time is that shipped config's own row in the grid (kernels/tuned).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODE_MMA = 5  # kernels/triton_decode.py (not imported: that pulls in Triton)
SHIPPED = Path(__file__).resolve().parents[1] / "kernels" / "tuned" / "NVIDIA_H200.v8.json"


def _fragment_key(row: dict) -> tuple:
    return row["num_warps"], row["ROWS"], row["WPL"], row.get("PRELOAD", 0), row.get("SPLIT_K")


def layer_sums(run: dict, shipped: dict) -> dict[int, dict[int, dict[str, float]]]:
    """rows -> tasks -> {"one", "bucket", "few"}: microseconds summed over the run's shapes (a case missing a column
    in any shape leaves that column out)."""
    cases: dict[tuple, dict] = defaultdict(lambda: {"fragment": {}})
    for row in run["rows"]:
        case = cases[(row["M"], row["tasks"], row["N"], row["K"])]
        if row["kind"] == "op":
            case["op"] = row["us"]
        elif row["kind"] == "op_bucket":
            case["bucket"] = row["us"]
        elif row["kind"] == "mma_tasks" and row["us"]:
            case["fragment"][_fragment_key(row)] = row["us"]
    sums: dict[int, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    counts: dict[tuple, int] = defaultdict(int)
    shapes = {(n, k) for _, _, n, k in cases}
    for (m, tasks, n, k), case in cases.items():
        one = case.get("op")
        if "op_fragment" not in run:  # the op's fragment kernel was off: take the shipped config's own row
            m_bucket = 1 << max(0, (m - 1).bit_length())
            choice = shipped.get(f"decode|{m_bucket},{n},{k},4,{run['rows'][0]['gpr']},torch.float16,torch.float16")
            if choice and choice["MODE"] == MODE_MMA:
                one = case["fragment"].get(_fragment_key(choice))
        values = {"one": one, "bucket": case.get("bucket"), "few": min(case["fragment"].values(), default=None)}
        for name, us in values.items():
            if us is not None:
                sums[m][tasks][name] = sums[m][tasks].get(name, 0.0) + us
                counts[(m, tasks, name)] += 1
    for (m, tasks, name), count in counts.items():  # a column is a layer's only if every shape has it
        if count < len(shapes):
            sums[m][tasks].pop(name, None)
    return sums


def plot(sums: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kernels import triton_ops

    rows = sorted(sums)
    fig, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 4), squeeze=False)
    for ax, m in zip(axes[0], rows, strict=True):
        tasks = sorted(sums[m])
        for name, label, style in (("one", "one-task choice", "o-"), ("bucket", "bucket kernel", "s-"),
                                   ("few", "fragment kernel (few-task class)", "^-")):  # fmt: skip
            points = [(t, sums[m][t][name]) for t in tasks if name in sums[m][t]]
            ax.plot([t for t, _ in points], [us for _, us in points], style, label=label)
        for boundary in triton_ops.task_classes(m):
            ax.axvline(boundary - 0.5, ls=":", color="gray")
        ax.set(title=f"{m} rows", xlabel="distinct tasks", ylabel="us a layer (4 projections)", xticks=tasks)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7)
    fig.suptitle(title + "  (dotted: where the op changes class)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+")
    args = ap.parse_args()
    shipped = json.loads(SHIPPED.read_text())
    for path in args.runs:
        run = json.loads(path.read_text())
        sums = layer_sums(run, shipped)
        for m in sorted(sums):
            for tasks in sorted(sums[m]):
                cols = "  ".join(f"{name} {us:.1f}" for name, us in sums[m][tasks].items())
                print(f"{path.name}: {m} rows, {tasks} tasks: {cols}")
        title = f"{run.get('gpu', 'GPU')}, gpr {run['rows'][0]['gpr']}: a layer's decode projections by task count"
        plot(sums, title, path.with_suffix(".png"))
        print(f"wrote {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
