"""Whether a person really ended the task of a trigger that is being cancelled.

Airflow 3.3's triggerer calls a trigger's ``on_kill`` whenever it cancels the trigger, also when the
trigger only moves to another triggerer (a failover, apache/airflow#73454). The task instance's state
tells the cases apart: it stays ``deferred`` while its trigger moves, and becomes ``failed`` when a person
marks it failed. Earlier Airflow versions never call a trigger's ``on_kill``.

The state is read through the triggerer's own async channel to its supervisor, on the event loop. When it
cannot be read, the answer is "no": a job is never stopped on a guess.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_optjob.compat import ask_supervisor_for_task_states
from airflow_provider_optjob.triggerer_runtime.run_to_completion import run_to_completion

#: The task instance states that mean a person ended the task and wants its job stopped.
STATES_THAT_STOP_THE_JOB = frozenset({"failed"})


async def task_ended_by_a_person(trigger: Any) -> tuple[bool, str]:
    """
    Read the state of the trigger's task instance and say whether a person ended the task.

    :param trigger: a trigger that the triggerer is cancelling (its ``task_instance`` is set by Airflow).
    :return: the answer, and why, for the log.
    """
    task_instance = getattr(trigger, "task_instance", None)
    if task_instance is None:
        return False, "the trigger has no task instance to check"
    try:
        state = await _task_instance_state(task_instance)
    except Exception as error:  # the state is unknown: leave the job alone
        return False, f"the task instance's state could not be read ({type(error).__name__}: {error})"
    if state in STATES_THAT_STOP_THE_JOB:
        return True, f"its task was marked {state}"
    if state == "deferred":
        return False, "its task is still deferred (the trigger moved to another triggerer or is shutting down)"
    return False, f"its task is {state or 'cleared'} (a new try attaches to the running job)"


async def _task_instance_state(task_instance: Any) -> str | None:
    map_index = task_instance.map_index
    response = await run_to_completion(
        ask_supervisor_for_task_states(task_instance.dag_id, task_instance.task_id, task_instance.run_id, map_index)
    )
    states_by_task = response.task_states.get(task_instance.run_id, {})
    key = task_instance.task_id if map_index is None or map_index < 0 else f"{task_instance.task_id}_{map_index}"
    if key not in states_by_task:
        raise LookupError(f"no task instance {key!r} in run {task_instance.run_id!r}")
    state = states_by_task[key]
    return None if state is None else str(getattr(state, "value", state))
