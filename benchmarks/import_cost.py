"""DAG-parsing cost: what importing our sensor and operators adds to a DAG file, vs the Amazon provider's.

Run from the repository root::

    .venv/bin/python benchmarks/import_cost.py            # 7 fresh processes per target, median
    .venv/bin/python benchmarks/import_cost.py --runs 11 --prelude "import airflow"

Each run is a fresh ``python -X importtime -c "<prelude>; import <target>"``. The prelude (by default
``from airflow.sdk import DAG``, what every DAG file does) is what both share; the modules imported
after it are what the target adds. Reported per target: the added self time (the sum of the
``self`` column over the added modules, i.e. the target's cumulative time net of anything the prelude
already imported), the number of added modules, our own package's share, the total of the whole process
(prelude included) and the heaviest added modules. Results: ``benchmarks/results/import_cost.json``
and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "ours": (
        "import airflow_provider_optjob.sensors.optimization_job, airflow_provider_optjob.operators.optimization_job"
    ),
    "baseline": "import airflow.providers.amazon.aws.operators.sagemaker",
}
OWN_PACKAGE = {"ours": "airflow_provider_optjob", "baseline": "airflow.providers.amazon"}
DEFAULT_PRELUDE = "from airflow.sdk import DAG"


@dataclass
class ImportLine:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse_importtime(stderr: str) -> list[ImportLine]:
    """Parse ``-X importtime`` output lines (``import time: self | cumulative | name``)."""
    lines = []
    for raw in stderr.splitlines():
        if not raw.startswith("import time:"):
            continue
        parts = raw[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2]
        stripped = name.lstrip(" ")
        lines.append(
            ImportLine(
                module=stripped.strip(),
                self_us=int(parts[0]),
                cumulative_us=int(parts[1]),
                depth=(len(name) - len(stripped) - 1) // 2,
            )
        )
    return lines


def measure(prelude: str, target: str, pycache: Path | None) -> dict[str, Any]:
    """One fresh process: the prelude, a marker import, then the target.

    :param pycache: a ``PYTHONPYCACHEPREFIX`` for compiled bytecode (kept out of the source tree and the
        venv); ``None`` compiles every module from source in every run.
    """
    # A small stdlib module no prelude imports marks the split point.
    code = f"{prelude}\nimport tabnanny\n{target}"
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"import failed:\n{completed.stderr[-3000:]}")
    lines = parse_importtime(completed.stderr)
    split = next((i for i, line in enumerate(lines) if line.module == "tabnanny" and line.depth == 0), None)
    if split is None:
        raise RuntimeError("marker import not found; is tabnanny imported by the prelude?")
    prelude_lines, added = lines[:split], lines[split + 1 :]
    return {
        "wall_seconds": wall,
        "total_self_us": sum(line.self_us for line in lines),
        "prelude_self_us": sum(line.self_us for line in prelude_lines),
        "added_self_us": sum(line.self_us for line in added),
        "added_modules": len(added),
        "added": {line.module: line.self_us for line in added},
    }


def summarize(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    own = OWN_PACKAGE[name]
    own_us = [sum(us for module, us in run["added"].items() if module.startswith(own)) for run in runs]
    per_module: dict[str, list[int]] = {}
    for run in runs:
        for module, us in run["added"].items():
            per_module.setdefault(module, []).append(us)
    heaviest = sorted(((statistics.median(values), module) for module, values in per_module.items()), reverse=True)
    top_level: dict[str, float] = {}
    for module, values in per_module.items():
        root = module.split(".")[0] if not module.startswith("airflow.") else ".".join(module.split(".")[:2])
        if module.startswith("airflow.providers."):
            root = ".".join(module.split(".")[:3])
        top_level[root] = top_level.get(root, 0.0) + statistics.median(values)
    return {
        "target": TARGETS[name],
        "runs": len(runs),
        "added_self_us_median": statistics.median(run["added_self_us"] for run in runs),
        "added_self_us_min": min(run["added_self_us"] for run in runs),
        "added_modules_median": statistics.median(run["added_modules"] for run in runs),
        "own_package_self_us_median": statistics.median(own_us),
        "prelude_self_us_median": statistics.median(run["prelude_self_us"] for run in runs),
        "total_self_us_median": statistics.median(run["total_self_us"] for run in runs),
        "process_wall_seconds_median": statistics.median(run["wall_seconds"] for run in runs),
        "heaviest_added_modules": [{"module": module, "self_us": us} for us, module in heaviest[:12]],
        "added_by_package": dict(sorted(top_level.items(), key=lambda item: -item[1])[:12]),
    }


def markdown(report: dict[str, Any]) -> str:
    ours, baseline = report["ours"], report["baseline"]
    rows = (
        ("added import time, median (ms)", "added_self_us_median", 1000),
        ("added import time, best run (ms)", "added_self_us_min", 1000),
        ("modules added", "added_modules_median", 1),
        ("own package's modules (ms)", "own_package_self_us_median", 1000),
        ("prelude (shared) import time (ms)", "prelude_self_us_median", 1000),
        ("whole process import time (ms)", "total_self_us_median", 1000),
        ("process wall time (s)", "process_wall_seconds_median", 1),
    )
    lines = [
        f"Prelude: `{report['prelude']}`; {report['runs']} fresh processes per target, median.",
        "",
        "| | ours (sensor + operators) | baseline (`amazon...operators.sagemaker`) | ours / baseline |",
        "|---|---:|---:|---:|",
    ]
    for title, key, scale in rows:
        a, b = ours[key] / scale, baseline[key] / scale
        ratio = f"{a / b:.2f}" if b else "-"
        lines.append(f"| {title} | {a:,.1f} | {b:,.1f} | {ratio} |")
    for name in ("ours", "baseline"):
        heaviest = ", ".join(
            f"`{item['module']}` {item['self_us'] / 1000:.1f}" for item in report[name]["heaviest_added_modules"][:6]
        )
        lines.append(f"\nHeaviest added modules, {name} (ms self): {heaviest}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per target (default: %(default)s)")
    parser.add_argument("--prelude", default=DEFAULT_PRELUDE, help="what both share (default: %(default)r)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "import_cost.json")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module from source in every run (by default bytecode is cached in a temp dir)",
    )
    args = parser.parse_args(argv)

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
    with tempfile.TemporaryDirectory(prefix="optjob-pycache-") as tmp:
        pycache = None if args.no_bytecode_cache else Path(tmp)
        for target in TARGETS.values():  # warm the filesystem cache and the bytecode cache
            measure(args.prelude, target, pycache)
        for _ in range(args.runs):
            for name, target in TARGETS.items():  # interleaved, so machine noise hits both alike
                runs[name].append(measure(args.prelude, target, pycache))
    report = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "prelude": args.prelude,
        "runs": args.runs,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "bytecode_cache": not args.no_bytecode_cache,
        **{name: summarize(name, name_runs) for name, name_runs in runs.items()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(markdown(report))
    print(f"\nWrote {args.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
