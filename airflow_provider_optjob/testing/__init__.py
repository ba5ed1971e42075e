"""A local SageMaker endpoint for offline tests: optimization jobs emulated, everything else served by moto.

``SageMakerEmulator`` serves it in a background thread; ``EmulatorControl`` scripts jobs and injects faults
over HTTP; ``python -m airflow_provider_optjob.testing`` (``optjob-emulator``) runs it in its own process; the
pytest plugin ``airflow_provider_optjob.testing.pytest_plugin`` provides the ``sagemaker_emulator`` and
``optjob_aws_conn`` fixtures. Needs the ``testing`` extra (moto with its server dependencies).

Names are imported lazily, so importing this package pulls in neither werkzeug nor moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_optjob.testing.control import EmulatorControl, EmulatorControlError
    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

__all__ = ["EmulatorControl", "EmulatorControlError", "SageMakerEmulator"]

_LAZY = {
    "EmulatorControl": "airflow_provider_optjob.testing.control",
    "EmulatorControlError": "airflow_provider_optjob.testing.control",
    "SageMakerEmulator": "airflow_provider_optjob.testing.emulator",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
