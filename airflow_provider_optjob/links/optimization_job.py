"""Operator extra link to an optimization job's page in the AWS console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

from airflow_provider_optjob.compat import task_sdk_xcom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey


class SageMakerOptimizationJobLink(BaseAwsLink):
    """
    Link to the optimization job in the Amazon SageMaker console.

    Operators persist it (``region_name``, ``aws_domain``, ``job_name``) before they wait on the job. A task that
    fails before that has no link: :meth:`get_link` then returns ``""`` without asking for the missing XCom (on
    Airflow 3 a missing XCom is logged as an error by the worker, after every early task failure).
    """

    name = "Amazon SageMaker Optimization Job"
    key = "sagemaker_optimization_job"
    format_str = BASE_AWS_CONSOLE_LINK + "/sagemaker/home?region={region_name}#/optimization-jobs/{job_name}"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """
        Return the console URL persisted for this task instance, or ``""`` when none was persisted.

        :param operator: the task's operator.
        :param ti_key: the task instance the link is for.
        """
        if link_xcom_missing(self.key, ti_key):
            return ""
        return str(super().get_link(operator, ti_key=ti_key))


def link_xcom_missing(key: str, ti_key: Any) -> bool:
    """
    Tell, without logging a "not found" error, whether the task instance surely persisted no link under ``key``.

    On Airflow 3, inside a task, the Task SDK answers a sequence query (every map index of the task) with an
    empty list instead of a 404. Anywhere else (Airflow 2, whose XCom lookup is quiet; no task context) the
    answer is ``False``, so the caller reads the XCom the usual way.

    :param key: the link's XCom key.
    :param ti_key: the task instance (``dag_id``, ``task_id``, ``run_id``, ``map_index``).
    """
    xcom = task_sdk_xcom()
    if xcom is None:  # Airflow 2
        return False
    try:
        values = xcom.get_all(key=key, dag_id=ti_key.dag_id, task_id=ti_key.task_id, run_id=ti_key.run_id)
    except Exception:  # no task context (no supervisor to ask): read the XCom the usual way
        return False
    return not values
