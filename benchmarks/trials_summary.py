"""What the autotuner saw, from SKETCHSERVE_AUTOTUNE_TRIALS files (kernels/autotune.py: one JSON line per timed
candidate, {"entry", "config", and "ms", "failed" or "disagrees"}).

    python3 benchmarks/trials_summary.py A.jsonl [B.jsonl]

Per tuned entry (kernel and shape key) of A: how many candidates ran, failed and disagreed, the winner and its time.
With B (e.g. the same shapes tuned under another Triton): beside each entry both runs' winners, and what A's winner
did in B (its time, its failure or its disagreement), so a choice that got worse shows whether its config broke or
only slowed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(path: Path) -> dict[str, list[dict]]:
    """entry -> its trials in order (a later tuning of the same entry, e.g. after a cache reset, replaces it)."""
    entries: dict[str, list[dict]] = {}
    seen_in_run: set[str] = set()
    previous = None
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        trial = json.loads(line)
        entry = trial["entry"]
        if entry != previous and entry in seen_in_run:
            entries[entry] = []  # tuned again
        entries.setdefault(entry, []).append(trial)
        seen_in_run.add(entry)
        previous = entry
    return entries


def winner(trials: list[dict]) -> dict | None:
    timed = [t for t in trials if "ms" in t]
    return min(timed, key=lambda t: t["ms"]) if timed else None


def outcome(trial: dict | None) -> str:
    if trial is None:
        return "not a candidate"
    if "ms" in trial:
        return f"{1000 * trial['ms']:.1f} us"
    if trial.get("disagrees"):
        return "disagreed"
    return f"failed: {trial.get('failed', '?')[:80]}"


def summary(a: dict[str, list[dict]], b: dict[str, list[dict]] | None = None) -> list[str]:
    lines = []
    for entry, trials in a.items():
        best = winner(trials)
        failed = sum("failed" in t for t in trials)
        disagreed = sum(bool(t.get("disagrees")) for t in trials)
        lines.append(f"{entry}: {len(trials)} candidates, {failed} failed, {disagreed} disagreed")
        lines.append(f"  A: {outcome(best)} {best['config'] if best else ''}")
        if b is not None and entry in b:
            other = b[entry]
            best_b = winner(other)
            same = next((t for t in other if best and t["config"] == best["config"]), None)
            lines.append(f"  B: {outcome(best_b)} {best_b['config'] if best_b else ''}")
            lines.append(f"  A's winner in B: {outcome(same)}")
    return lines


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    a = load(Path(sys.argv[1]))
    b = load(Path(sys.argv[2])) if len(sys.argv) == 3 else None
    print("\n".join(summary(a, b)))


if __name__ == "__main__":
    main()
