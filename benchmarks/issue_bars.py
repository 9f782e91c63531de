"""The kernel issue's three bars, read from kernel-table runs (bench_kernels.py's kernels.json), one GPU or several.

    python3 benchmarks/issue_bars.py RUN.json [RUN.json ...] [--png OUT.png]

A case that two runs of one GPU both time (same shape, gpr, tokens and tasks) is taken from the later run on the
command line, in the earlier one's place: so a GPU's latest figures can be drawn from its last decode, prefill and
one-task runs, oldest first.

Each bar is a ratio to fp16 cuBLAS in the same run, both timed from CUDA-graph replays with a cold L2 (the op as the
server runs it: the faster of the gather and bucket kernels, `bench_kernels.best_graph_us`):
- decode, one task, 1-16 tokens: cuBLAS's time over ours at least 2.5;
- decode, 16 tokens over 16 tasks: at least 2;
- prefill, 2,048 tokens (any task count): ours over cuBLAS's at most 1.3, plotted as cuBLAS over ours >= 1 / 1.3.
Prints a markdown table (a row a case: GPU, case, ours, cuBLAS, the ratio, the bar, met or not) and, with --png,
draws every case's cuBLAS / ours per GPU against its bar's line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import best_graph_us, cublas_graph_us  # noqa: E402

PREFILL_BAR = 1.3  # ours / cuBLAS at most


@dataclass(frozen=True)
class BarCase:
    gpu: str
    bar: str  # which of the three bars
    label: str  # e.g. "decode 4096x4096 gpr1 M=16 T=16"
    ours_us: float
    cublas_us: float
    need: float  # the least cuBLAS / ours that meets the bar

    @property
    def speedup(self) -> float:
        """cuBLAS's time over ours (above 1: ours is faster)."""
        return self.cublas_us / self.ours_us

    @property
    def met(self) -> bool:
        return self.speedup >= self.need

    def in_bar_terms(self) -> tuple[str, str]:
        """(the ratio, the bar) as the issue words the bar: prefill's as ours / cuBLAS <= 1.3, decode's as
        cuBLAS / ours >= 2.5 or 2."""
        if self.need < 1:
            return f"ours ÷ cuBLAS {1 / self.speedup:.3f}", f"<= {1 / self.need:.2f}"  # 3 digits: cases land at the bar
        return f"cuBLAS ÷ ours {self.speedup:.3f}", f">= {self.need:.2f}"


def bar_of(case: dict) -> tuple[str, float] | None:
    """(the bar's name, the least cuBLAS / ours that meets it) for a kernels.json case, None for cases no bar names
    (decode at 64 tokens or over 4 tasks, prefill of 512 tokens)."""
    if case["phase"] == "decode" and case["M"] <= 16 and case["tasks"] == 1:
        return "decode, one task, <= 16 tokens: 2.5x cuBLAS", 2.5
    if case["phase"] == "decode" and case["M"] == 16 and case["tasks"] == 16:
        return "decode, 16 tokens over 16 tasks: 2x cuBLAS", 2.0
    if case["phase"] == "prefill" and case["M"] == 2048:
        return "prefill, 2,048 tokens: <= 1.3x cuBLAS's time", 1.0 / PREFILL_BAR
    return None


def bar_cases(run: dict) -> list[BarCase]:
    """The run's cases that a bar names, in the run's order."""
    out = []
    for case in run["cases"]:
        bar = bar_of(case)
        if bar is None:
            continue
        label = f"{case['phase']} {case['N']}x{case['K']} gpr{case['gpr']} M={case['M']} T={case['tasks']}"
        out.append(BarCase(run["gpu"], bar[0], label, best_graph_us(case), cublas_graph_us(case), bar[1]))
    return out


def latest_cases(runs: list[dict]) -> list[BarCase]:
    """Every run's bar cases, a case of a GPU that a later run also timed replaced by the later run's (in the
    earlier one's place: the runs' order, oldest first, keeps the table's)."""
    cases: dict[tuple[str, str], BarCase] = {}
    for run in runs:
        for case in bar_cases(run):
            cases[(case.gpu, case.label)] = case
    return list(cases.values())


def markdown(cases: list[BarCase]) -> str:
    lines = ["| GPU | case | ours µs | cuBLAS µs | ratio | bar | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in cases:
        ratio, bar = c.in_bar_terms()
        lines.append(f"| {c.gpu.removeprefix('NVIDIA ')} | {c.label} | {c.ours_us:.1f} | {c.cublas_us:.1f} | {ratio} | "
                     f"{bar} | {'yes' if c.met else '**no**'} |")  # fmt: skip
    return "\n".join(lines)


def panel_order(labels: list[str]) -> list[str]:
    """A panel's distinct case labels ("decode 4096x4096 gpr1 M=16 T=1") by shape, in the order the shapes first
    come, then by gpr, tokens and tasks: a later run's extra token counts sit beside their shape's others."""
    labels = list(dict.fromkeys(labels))
    shapes = list(dict.fromkeys(lab.split(" ")[1] for lab in labels))

    def key(label: str) -> tuple[int, ...]:
        _, shape, gpr, m, t = label.split(" ")
        return shapes.index(shape), int(gpr.removeprefix("gpr")), int(m.removeprefix("M=")), int(t.removeprefix("T="))

    return sorted(labels, key=key)


def plot(cases: list[BarCase], path: Path) -> None:
    """One panel a bar; per case, a bar for each GPU (cuBLAS / ours) and the bar's line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = list(dict.fromkeys(c.bar for c in cases))
    gpus = list(dict.fromkeys(c.gpu for c in cases))
    fig, axes = plt.subplots(len(bars), 1, figsize=(18, 3.8 * len(bars)), squeeze=False)
    for ax, bar in zip(axes[:, 0], bars, strict=True):
        mine = [c for c in cases if c.bar == bar]
        labels = panel_order([c.label for c in mine])
        width = 0.8 / len(gpus)
        for j, gpu in enumerate(gpus):
            by_label = {c.label: c.speedup for c in mine if c.gpu == gpu}
            xs = [i + (j - (len(gpus) - 1) / 2) * width for i in range(len(labels))]
            ax.bar(xs, [by_label.get(lab, 0.0) for lab in labels], width, label=gpu)
        ax.axhline(mine[0].need, color="red", linestyle="--", linewidth=1, label=f"bar ({mine[0].need:.2f})")
        ax.set_xticks(range(len(labels)))
        ticks = [lab.split(" ") for lab in labels]  # phase, shape, gpr, M=, T=
        ax.set_xticklabels([f"{t[1]}\n{t[2]}\n{t[3]} {t[4]}" for t in ticks], fontsize=7)
        ax.set_ylabel("cuBLAS time / ours")
        ax.set_title(bar)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # outside: bars reach every height
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="kernels.json files (bench_kernels.py --out)")
    ap.add_argument("--png", type=Path, help="draw the ratios against the bars here")
    args = ap.parse_args()
    cases = latest_cases([json.loads(run.read_text()) for run in args.runs])
    print(markdown(cases))
    met = sum(c.met for c in cases)
    print(f"\n{met} of {len(cases)} cases meet their bar")
    if args.png:
        plot(cases, args.png)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
