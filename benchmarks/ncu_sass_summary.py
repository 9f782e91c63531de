"""Where a kernel's warps wait, from Nsight Compute's SASS source page exported as CSV.

    ncu -i REPORT.ncu-rep --page source --csv --print-source sass > sass.csv
    python3 benchmarks/ncu_sass_summary.py sass.csv [--top 30] [--shared] [--global]

Prints the stall samples by reason, the samples and executed instructions by opcode, and the --top SASS lines by
samples with their three main reasons: the CSV itself (~400 kB, a line per instruction and ~80 columns) is hard to
read, and a device call returns few files. --shared (a report with SourceCounters' memory columns) adds the
shared-memory wavefronts and their ideal by full opcode (LDGSTS.E.128 apart from LDGSTS.E.BYPASS.128), --global the
global accesses' L1 tag requests and L2 sectors against their ideal.
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


def _opcode(source: str, modifiers: bool = False) -> str:
    """SASS mnemonic without predicate and (unless modifiers) its modifiers: '@P6 ERRBAR' -> 'ERRBAR',
    'LOP3.LUT R1, ...' -> 'LOP3' ('LOP3.LUT' with modifiers)."""
    text = re.sub(r"^@!?U?P\w+\s+", "", source.strip())
    if not text:
        return ""
    return text.split()[0] if modifiers else text.split()[0].split(".")[0]


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


def _by_full_opcode(rows: list[dict], columns: tuple[str, ...], label: str) -> str:
    """columns and the instructions executed summed by full opcode (modifiers kept: a ring's cp.async through L1 and
    around it are different lines), the opcodes whose first column is 0 left out, the largest first."""
    by_op = {}
    for r in rows:
        sums = by_op.setdefault(_opcode(r.get("Source", ""), modifiers=True), [0.0] * (len(columns) + 1))
        for i, column in enumerate((*columns, "Instructions Executed")):
            sums[i] += _num(r.get(column))
    kept = sorted(((op, sums) for op, sums in by_op.items() if sums[0]), key=lambda kv: -kv[1][0])
    return f"{label} " + str([(op, *map(int, s)) for op, s in kept])


def shared_wavefronts(rows: list[dict]) -> str:
    """The shared-memory wavefronts, their ideal and the instructions executed, by full opcode."""
    return _by_full_opcode(rows, ("L1 Wavefronts Shared", "L1 Wavefronts Shared Ideal"),
                           "shared wavefronts (opcode, wavefronts, ideal, executed)")  # fmt: skip


def global_sectors(rows: list[dict]) -> str:
    """The global accesses' L1 tag requests, their L2 sectors and those sectors' ideal, and the instructions
    executed, by full opcode: a load whose lanes spread over more lines than its bytes need shows sectors above ideal
    (the seventy-first session's 16-token x loads: 32 a warp-wide LDG.E.128 where 16 hold its 512 bytes)."""
    return _by_full_opcode(rows, ("L1 Tag Requests Global", "L2 Theoretical Sectors Global",
                                  "L2 Theoretical Sectors Global Ideal"),
                           "global (opcode, L1 tag requests, L2 sectors, ideal, executed)")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", type=Path)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--shared", action="store_true", help="add the shared-memory wavefronts by opcode")
    ap.add_argument("--global", dest="global_", action="store_true", help="add the global accesses' sectors by opcode")
    args = ap.parse_args(argv)
    rows = read_rows(args.csv)
    print(summarize(rows, args.top))
    if args.shared:
        print(shared_wavefronts(rows))
    if args.global_:
        print(global_sectors(rows))


if __name__ == "__main__":
    main()
