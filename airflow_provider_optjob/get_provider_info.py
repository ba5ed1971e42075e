"""Provider metadata, read by Airflow's providers manager through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from airflow_provider_optjob import __version__

_INTEGRATION = "Amazon SageMaker Optimization Jobs"


def get_provider_info() -> dict[str, Any]:
    """Return what this package adds to Airflow: its hook, trigger, sensor, operators and extra link.

    Operators are listed by their public module, :mod:`airflow_provider_optjob.operators.optimization_job`, which
    re-exports each of them (the model-from-job operator included).
    """
    return {
        "package-name": "airflow-provider-optjob",
        "name": "Amazon SageMaker Optimization Jobs",
        "description": (
            "Create, wait for (deferrable) and read the outcome of Amazon SageMaker optimization jobs, and build a "
            "SageMaker model from a completed one."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/dg/model-optimize.html",
                "tags": ["aws"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_optjob.hooks.optimization_job"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": _trigger_modules(),
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_optjob.sensors.optimization_job"],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_optjob.operators.optimization_job"],
            }
        ],
        "extra-links": ["airflow_provider_optjob.links.optimization_job.SageMakerOptimizationJobLink"],
        "config": {
            "sagemaker_optimization_job": {
                "description": "Settings of the SageMaker optimization job provider.",
                "options": {
                    "freeze_gc_after_client_setup": {
                        "description": (
                            "Opt-in. Once the first shared SageMaker client of a process (normally the "
                            "triggerer) is set up, move the objects alive then out of the garbage collector's "
                            "reach (gc.freeze), so full collections do not stall the triggerer's event loop. "
                            "It acts on the whole process: cyclic garbage among objects alive at the freeze, "
                            "other providers' included, is never freed."
                        ),
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                    "coalesced_polling": {
                        "description": (
                            "Waiting triggers that use the same connection settings in one triggerer share one "
                            "ListOptimizationJobs query per poll interval, and describe a job only when the list "
                            "shows it ended (and every 5 minutes as a safety net), instead of each describing its "
                            "job every interval. Needs sagemaker:ListOptimizationJobs; without it the triggers fall "
                            "back to describing their own job. Set to False to always describe each job every "
                            "interval."
                        ),
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "False",
                        "default": "True",
                    },
                },
            }
        },
    }


def _trigger_modules() -> list[str]:
    """List the trigger modules; the asset-watcher trigger's only on Airflow 3, where it can be imported."""
    modules = ["airflow_provider_optjob.triggers.optimization_job"]
    if int(version("apache-airflow").split(".")[0]) >= 3:
        modules.append("airflow_provider_optjob.triggers.job_events")
    return modules
