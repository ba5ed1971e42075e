"""Print the real-deployment results of several MWAA sets as one table: set x connection store x result.

Usage: python3 scripts/lib/deployment_table.py REPORT.json... (the files tests/deployment writes to
``$OPTJOB_DEPLOYMENT_REPORT_DIR``). Standard library only, so any Python 3 runs it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def main(paths: list[str]) -> int:
    reports: list[dict[str, Any]] = [json.loads(Path(path).read_text()) for path in paths]
    reports.sort(key=lambda report: (version_key(report["airflow_version"]), report["test"]))
    header = ("Airflow", "Python", "test", "store", "result", "wall s", "reason")
    lines = [header]
    for report in reports:
        for row in report["rows"]:
            lines.append(
                (
                    report["airflow_version"],
                    ".".join(report["python_version"].split(".")[:2]),
                    report["test"],
                    row["store"],
                    row["result"],
                    f"{report['wall_seconds']:.0f}",
                    row["reason"][:90],
                )
            )
    widths = [max(len(str(line[column])) for line in lines) for column in range(len(header) - 1)]
    for line in lines:
        cells = [str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, str(line[-1])]).rstrip())
    failed = sum(1 for report in reports for row in report["rows"] if row["result"] != "PASS")
    print(f"{len(lines) - 1} rows, {failed} not PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
