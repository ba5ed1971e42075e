"""Operators for Amazon SageMaker optimization jobs: create (and wait), read the result, stop, build a model.

The public import path of the four operators (each lives in a module of its own), and of
:func:`~airflow_provider_optjob.model.name.job_name_per_run`, the job name template of one job per DAG run.
"""

from __future__ import annotations

from airflow_provider_optjob.model.name import job_name_per_run
from airflow_provider_optjob.operators.create_model_from_optimization_job import (
    SageMakerCreateModelFromOptimizationJobOperator,
)
from airflow_provider_optjob.operators.create_optimization_job import (
    DEFAULT_MAX_WAIT_SECONDS,
    IF_EXISTS_CHOICES,
    SageMakerCreateOptimizationJobOperator,
)
from airflow_provider_optjob.operators.optimization_job_result import SageMakerOptimizationJobResultOperator
from airflow_provider_optjob.operators.stop_optimization_job import SageMakerStopOptimizationJobOperator

__all__ = [
    "DEFAULT_MAX_WAIT_SECONDS",
    "IF_EXISTS_CHOICES",
    "SageMakerCreateModelFromOptimizationJobOperator",
    "SageMakerCreateOptimizationJobOperator",
    "SageMakerOptimizationJobResultOperator",
    "SageMakerStopOptimizationJobOperator",
    "job_name_per_run",
]
