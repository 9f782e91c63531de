"""Where a kernel's warps wait, from Nsight Compute's SASS source page exported as CSV.

    ncu -i REPORT.ncu-rep --page source --csv --print-source sass > sass.csv
    python3 benchmarks/ncu_sass_summary.py sass.csv [--top 30]

Prints the stall samples by reason, the samples and executed instructions by opcode, and the --top SASS lines by
samples with their three main reasons: the CSV itself (~400 kB, a line per instruction and ~80 columns) is hard to
read, and a device call returns few files.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
from collections import Counter
from pathlib import Path


def read_rows(path: Path) -> list[dict]:
    """The CSV's instruction rows (ncu puts a "Kernel Name" line before the header)."""
    text = path.read_text(errors="replace")
    start = text.find('"Address"')
    if start < 0:
        raise ValueError(f"{path}: no SASS table (expected a header starting with \"Address\")")
    return list(csv.DictReader(io.StringIO(text[start:])))


def _num(value: str | None) -> float:
    try:
        return float((value or "0").replace(",", ""))
    except ValueError:
        return 0.0


def _opcode(source: str) -> str:
    """SASS mnemonic without predicate and modifiers: '@P6 ERRBAR' -> 'ERRBAR', 'LOP3.LUT R1, ...' -> 'LOP3'."""
    text = re.sub(r"^@!?U?P\w+\s+", "", source.strip())
    return text.split()[0].split(".")[0] if text else ""


def summarize(rows: list[dict], top: int) -> str:
    reasons = [c for c in rows[0] if c.startswith("stall_") and "Not Issued" not in c] if rows else []
    samples = Counter()
    by_op_samples, by_op_instr = Counter(), Counter()
    for r in rows:
        op = _opcode(r.get("Source", ""))
        by_op_samples[op] += _num(r.get("Warp Stall Sampling (All Samples)"))
        by_op_instr[op] += _num(r.get("Instructions Executed"))
        for c in reasons:
            samples[c] += _num(r.get(c))
    total = sum(_num(r.get("Warp Stall Sampling (All Samples)")) for r in rows)
    out = [f"instructions {int(sum(by_op_instr.values()))} samples {int(total)} sass lines {len(rows)}",
           "by reason " + str([(c, int(v)) for c, v in samples.most_common(10)]),
           "by opcode samples " + str([(o, int(v)) for o, v in by_op_samples.most_common(15)]),
           "by opcode instr " + str([(o, int(v)) for o, v in by_op_instr.most_common(15)])]  # fmt: skip
    hot = sorted(rows, key=lambda r: -_num(r.get("Warp Stall Sampling (All Samples)")))[:top]
    for r in hot:
        main = sorted(((int(_num(r.get(c))), c) for c in reasons), reverse=True)[:3]
        out.append(f"{r.get('Address', '?')} {r.get('Source', '').strip()} "
                   f"{int(_num(r.get('Warp Stall Sampling (All Samples)')))} "
                   f"{int(_num(r.get('Instructions Executed')))} {main}")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", type=Path)
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args(argv)
    print(summarize(read_rows(args.csv), args.top))


if __name__ == "__main__":
    main()
