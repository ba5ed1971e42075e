"""The deployment tests' report: Airflow version x connection store x result, printed and written as JSON.

``$OPTJOB_DEPLOYMENT_REPORT_DIR/<name>.json`` (when the variable is set) holds the same rows, with the
versions, so reports from several MWAA constraint sets can be put side by side.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

REPORT_DIR_VARIABLE = "OPTJOB_DEPLOYMENT_REPORT_DIR"


@dataclass(frozen=True)
class ReportRow:
    test: str
    airflow_version: str
    store: str
    conn_id: str
    result: str  # PASS or FAIL
    reason: str


def report_name(test: str) -> str:
    """The JSON file's stem: the test, the Airflow version and the Python it ran on."""
    python = ".".join(platform.python_version_tuple()[:2])
    return f"{test}-airflow-{version('apache-airflow')}-py{python}"


def print_table(title: str, rows: list[ReportRow], wall_seconds: float) -> None:
    print()
    print(
        f"{title} (Airflow {version('apache-airflow')}, Amazon provider "
        f"{version('apache-airflow-providers-amazon')}, Python {platform.python_version()})"
    )
    line = "{:<10} {:<17} {:<21} {:<6} {}"
    print(line.format("Airflow", "store", "conn id", "result", "reason"))
    for row in rows:
        print(line.format(row.airflow_version, row.store, row.conn_id, row.result, row.reason or "-"))
    print(f"wall time: {wall_seconds:.1f} s")


def write_json(test: str, rows: list[ReportRow], wall_seconds: float, details: dict[str, object]) -> Path | None:
    directory = os.environ.get(REPORT_DIR_VARIABLE)
    if not directory:
        return None
    path = Path(directory) / f"{report_name(test)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "test": test,
                "airflow_version": version("apache-airflow"),
                "amazon_provider_version": version("apache-airflow-providers-amazon"),
                "python_version": platform.python_version(),
                "wall_seconds": round(wall_seconds, 1),
                "rows": [asdict(row) for row in rows],
                "details": details,
            },
            indent=2,
            default=str,
        )
    )
    print(f"report written to {path}")
    return path
