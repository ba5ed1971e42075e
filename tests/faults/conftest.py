"""Fault-matrix fixtures, and the table of rows with their results printed at the end of the session."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from tests.faults.matrix import Row

if TYPE_CHECKING:
    from collections.abc import Generator

    from airflow_provider_optjob.testing.control import EmulatorControl

_ROW_RESULTS = pytest.StashKey[dict[str, tuple[Row, str, float]]]()
_COLUMNS = (("#", 3), ("component", 33), ("fault", 52), ("required outcome", 52), ("result", 14))


def _row_of(item: pytest.Item) -> Row | None:
    callspec = getattr(item, "callspec", None)
    row = callspec.params.get("row") if callspec is not None else None
    return row if isinstance(row, Row) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    row = _row_of(item)
    if row is None or not (report.when == "call" or report.failed or report.skipped):
        return
    results = item.config.stash.setdefault(_ROW_RESULTS, {})
    if report.when != "call" and item.nodeid in results:
        if report.failed:  # a teardown error spoils a passed row
            results[item.nodeid] = (row, "ERROR", results[item.nodeid][2])
        return
    result = "PASS" if report.passed else "SKIP" if report.skipped else "FAIL"
    results[item.nodeid] = (row, result, report.duration)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_ROW_RESULTS, {})
    if not results:
        return
    terminalreporter.section("fault matrix")
    terminalreporter.write_line(" | ".join(title.ljust(width) for title, width in _COLUMNS))
    terminalreporter.write_line("-+-".join("-" * width for _, width in _COLUMNS))
    for number, (row, result, duration) in enumerate(results.values(), start=1):
        cells = [str(number), row.component, row.fault, row.required, f"{result} {duration:5.1f}s"]
        wrapped = [textwrap.wrap(cell, width) or [""] for cell, (_, width) in zip(cells, _COLUMNS, strict=True)]
        for line in range(max(map(len, wrapped))):
            terminalreporter.write_line(
                " | ".join(
                    (lines[line] if line < len(lines) else "").ljust(width)
                    for lines, (_, width) in zip(wrapped, _COLUMNS, strict=True)
                ).rstrip()
            )
    passed = sum(result == "PASS" for _, result, _ in results.values())
    terminalreporter.write_line(f"{passed} of {len(results)} fault-matrix rows passed.")


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


@pytest.fixture
def control(optjob_aws_conn: str, sagemaker_emulator: Any) -> EmulatorControl:
    """The emulator's control client, after ``optjob_aws_conn`` reset the emulator for this test."""
    emulator_control: EmulatorControl = sagemaker_emulator.control
    return emulator_control
