"""Provider registration: the metadata Airflow reads through the entry point, and what it finds there."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import sysconfig
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import airflow_provider_optjob
from airflow_provider_optjob.get_provider_info import get_provider_info

PACKAGE_NAME = "airflow-provider-optjob"
PUBLIC_CLASSES = (
    "airflow_provider_optjob.hooks.optimization_job.SageMakerOptimizationJobHook",
    "airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger",
    "airflow_provider_optjob.sensors.optimization_job.SageMakerOptimizationJobSensor",
    "airflow_provider_optjob.operators.optimization_job.SageMakerOptimizationJobResultOperator",
    "airflow_provider_optjob.operators.optimization_job.SageMakerCreateOptimizationJobOperator",
    "airflow_provider_optjob.operators.optimization_job.SageMakerStopOptimizationJobOperator",
    "airflow_provider_optjob.operators.optimization_job.SageMakerCreateModelFromOptimizationJobOperator",
    "airflow_provider_optjob.links.optimization_job.SageMakerOptimizationJobLink",
    "airflow_provider_optjob.exceptions.OptimizationJobFailedError",
    "airflow_provider_optjob.testing.SageMakerEmulator",
    "airflow_provider_optjob.testing.EmulatorControl",
)
#: Each provider-info section that lists modules, with the public classes its module must define.
SECTION_CLASSES = {
    "hooks": {"SageMakerOptimizationJobHook"},
    "triggers": {"SageMakerOptimizationJobTrigger"},
    "sensors": {"SageMakerOptimizationJobSensor"},
    "operators": {
        "SageMakerOptimizationJobResultOperator",
        "SageMakerCreateOptimizationJobOperator",
        "SageMakerStopOptimizationJobOperator",
    },
}
LINK_CLASS = "airflow_provider_optjob.links.optimization_job.SageMakerOptimizationJobLink"


def import_class(path: str) -> type:
    module_name, class_name = path.rsplit(".", 1)
    imported = getattr(importlib.import_module(module_name), class_name)
    assert isinstance(imported, type), path
    return imported


def listed_modules(section: str) -> list[str]:
    return [module for entry in get_provider_info()[section] for module in entry["python-modules"]]


@pytest.mark.parametrize("class_path", PUBLIC_CLASSES)
def test_every_public_class_imports(class_path):
    assert import_class(class_path).__name__ == class_path.rsplit(".", 1)[1]


@pytest.mark.parametrize("section", sorted(SECTION_CLASSES))
def test_every_listed_module_imports_and_defines_its_classes(section):
    modules = [importlib.import_module(name) for name in listed_modules(section)]

    assert modules, f"provider info lists no {section}"
    defined = {name for module in modules for name, value in vars(module).items() if isinstance(value, type)}
    assert SECTION_CLASSES[section] <= defined


def test_every_listed_extra_link_imports():
    assert get_provider_info()["extra-links"] == [LINK_CLASS]
    assert import_class(LINK_CLASS).__name__ == "SageMakerOptimizationJobLink"


def test_entry_point_returns_the_provider_info():
    (entry_point,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_optjob.")
    ]

    info = entry_point.load()()

    assert info["package-name"] == PACKAGE_NAME
    assert info["versions"][0] == airflow_provider_optjob.__version__


def test_providers_manager_registers_the_package_trigger_and_link():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()

    assert manager.providers[PACKAGE_NAME].version == airflow_provider_optjob.__version__
    assert {info.trigger_class_name for info in manager.trigger if info.package_name == PACKAGE_NAME} == set(
        listed_modules("triggers")
    )
    assert LINK_CLASS in manager.extra_links_class_names
    data = manager.providers[PACKAGE_NAME].data
    for section in SECTION_CLASSES:
        assert data[section] == get_provider_info()[section]


def test_airflow_cli_shows_the_provider():
    completed = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "get", PACKAGE_NAME, "--full", "-o", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert PACKAGE_NAME in completed.stdout
    assert airflow_provider_optjob.__version__ in completed.stdout
    assert "airflow_provider_optjob.sensors.optimization_job" in completed.stdout


@pytest.mark.skipif(
    not os.environ.get("OPTJOB_EXPECT_INSTALLED_PACKAGE"),
    reason="only when testing an installed wheel (scripts/compat-matrix sets OPTJOB_EXPECT_INSTALLED_PACKAGE)",
)
def test_the_package_under_test_is_the_installed_wheel():
    package_dir = Path(airflow_provider_optjob.__file__).resolve().parent
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()

    assert package_dir == site_packages / "airflow_provider_optjob"
    assert (package_dir / "py.typed").exists()
