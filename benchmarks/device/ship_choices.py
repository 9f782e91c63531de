"""Ship a lent GPU's tuned choices (run here, not on the device): the entries of CACHE.json (the device's
$SKETCHSERVE_CACHE/autotune/<gpu>.v<N>.json, fetched from $OUT) whose kernel is one of --kernels, written over
SHIPPED.json's (kernels/tuned/<gpu>.v<N>.json, read by every start on that GPU before the user's own cache).

    python3 benchmarks/device/ship_choices.py CACHE.json kernels/tuned/NVIDIA_H100_80GB_HBM3.v8.json \
        --kernels decode_pairs,decode_family

Only the named kernels move: a cache tuned under another Triton or with other candidates keeps its other choices
to itself. The two files must be for the same GPU and cache version (their names). Prints each entry added or
changed; the shipped file is written as kernels/autotune.py writes a cache (sorted, indented).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def merge(cache: dict[str, dict], shipped: dict[str, dict], kernels: set[str]) -> tuple[dict[str, dict], list[str]]:
    """shipped with cache's entries of the given kernels written over it, and a line per entry added or changed."""
    merged, changes = dict(shipped), []
    for entry, config in sorted(cache.items()):
        if entry.split("|", 1)[0] not in kernels or shipped.get(entry) == config:
            continue
        changes.append(f"{'changed' if entry in shipped else 'added'} {entry}: {config}")
        merged[entry] = config
    return merged, changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache", type=Path)
    ap.add_argument("shipped", type=Path)
    ap.add_argument("--kernels", required=True, help="comma-separated autotune kernel names, e.g. decode_pairs")
    args = ap.parse_args()
    if args.cache.name != args.shipped.name:
        ap.error(f"{args.cache.name} and {args.shipped.name} name different GPUs or cache versions")
    shipped = json.loads(args.shipped.read_text()) if args.shipped.exists() else {}
    merged, changes = merge(json.loads(args.cache.read_text()), shipped, set(args.kernels.split(",")))
    args.shipped.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    print("\n".join(changes) or "nothing to ship")


if __name__ == "__main__":
    main()
