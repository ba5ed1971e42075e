"""Fixtures of the real-deployment tests: each test gets its own deployment, stopped however the test ends."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

import pytest

from optjob_harness.deployment import LocalDeployment
from tests.deployment import scenario

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from pathlib import Path


#: Set to keep every deployment's home (database, process and task logs), not only those of failed runs.
KEEP_HOME_VARIABLE = "OPTJOB_DEPLOYMENT_KEEP_HOME"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the test item, for the fixtures' teardown to see whether the test failed."""
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def migrated_database_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where the first deployment leaves a freshly migrated database for the next ones to copy."""
    return tmp_path_factory.mktemp("migrated-db")


@pytest.fixture
def deployment_factory(
    request: pytest.FixtureRequest, migrated_database_cache: Path
) -> Iterator[Callable[..., LocalDeployment]]:
    """Build :class:`LocalDeployment` objects on the tests' DAG folder; stop any left running at teardown.

    A deployment's home (database, process and task logs) outlives the ``with`` block, so that assertions made
    after it can still keep it: it is removed at teardown when the test passed, and kept (its path printed) when
    it failed or when ``OPTJOB_DEPLOYMENT_KEEP_HOME`` is set.
    """
    made: list[LocalDeployment] = []

    def make(**options: Any) -> LocalDeployment:
        env = {**scenario.DEPLOYMENT_ENV, **options.pop("env", {})}
        options.setdefault("executor", "LocalExecutor")
        options.setdefault("parallelism", 6)
        deployment = LocalDeployment(
            scenario.DAGS, env=env, migrated_database_cache=migrated_database_cache, keep_home=True, **options
        )
        made.append(deployment)
        return deployment

    yield make
    report = getattr(request.node, "report_call", None)
    keep = bool(os.environ.get(KEEP_HOME_VARIABLE)) or report is None or report.failed
    for deployment in made:
        deployment.stop()
        if keep:
            print(f"\nAirflow home and logs kept in {deployment.home}")
        else:
            shutil.rmtree(deployment.home, ignore_errors=True)
