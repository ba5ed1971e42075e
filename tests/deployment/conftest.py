"""Fixtures of the real-deployment tests: each test gets its own deployment, stopped however the test ends."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.testing.deployment import LocalDeployment
from tests.deployment import scenario

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


#: Set to keep every deployment's home (database, process and task logs), not only those of failed runs.
KEEP_HOME_VARIABLE = "OPTJOB_DEPLOYMENT_KEEP_HOME"


@pytest.fixture(scope="session")
def migrated_database_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where the first deployment leaves a freshly migrated database for the next ones to copy."""
    return tmp_path_factory.mktemp("migrated-db")


@pytest.fixture
def deployment_factory(migrated_database_cache: Path) -> Iterator[Callable[..., LocalDeployment]]:
    """Build :class:`LocalDeployment` objects on the tests' DAG folder; stop any left running at teardown."""
    made: list[LocalDeployment] = []

    def make(**options: Any) -> LocalDeployment:
        env = {**scenario.DEPLOYMENT_ENV, **options.pop("env", {})}
        options.setdefault("keep_home", bool(os.environ.get(KEEP_HOME_VARIABLE)))
        options.setdefault("executor", "LocalExecutor")
        options.setdefault("parallelism", 6)
        deployment = LocalDeployment(scenario.DAGS, env=env, migrated_database_cache=migrated_database_cache, **options)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.stop()
