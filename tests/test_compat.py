"""The private Airflow symbols that ``compat`` alone reaches, on the Airflow line that runs the tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_optjob.compat import (
    airflow2_first_reschedule_start,
    ask_supervisor_for_task_states,
    task_sdk_xcom,
)
from airflow_provider_optjob.testing.airflow_env import airflow_major_version

AIRFLOW_3 = airflow_major_version() >= 3


class RecordingChannel:
    """A supervisor channel that answers every ``asend`` with a fixed reply and keeps the messages."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.sent: list[Any] = []

    async def asend(self, message: Any) -> Any:
        self.sent.append(message)
        return self.reply


@pytest.mark.skipif(not AIRFLOW_3, reason="the Task SDK's supervisor channel exists from Airflow 3 on")
def test_the_task_state_question_is_a_get_task_states_message_on_the_channel(monkeypatch):
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import GetTaskStates

    channel = RecordingChannel(reply="the supervisor's answer")
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", channel, raising=False)

    answer = asyncio.run(_awaited(ask_supervisor_for_task_states("dag", "wait", "run-1", 3)))

    assert answer == "the supervisor's answer"
    (message,) = channel.sent
    assert isinstance(message, GetTaskStates)
    assert (message.dag_id, message.task_ids, message.run_ids, message.map_index) == ("dag", ["wait"], ["run-1"], 3)


@pytest.mark.skipif(not AIRFLOW_3, reason="the Task SDK's supervisor channel exists from Airflow 3 on")
def test_the_task_state_question_fails_without_a_channel(monkeypatch):
    from airflow.sdk.execution_time import task_runner

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", None, raising=False)

    with pytest.raises(RuntimeError, match="no channel"):
        ask_supervisor_for_task_states("dag", "wait", "run-1", -1)


@pytest.mark.skipif(AIRFLOW_3, reason="Airflow 2 has no Task SDK")
def test_the_task_state_question_cannot_be_asked_on_airflow_2():
    with pytest.raises(ImportError):
        ask_supervisor_for_task_states("dag", "wait", "run-1", -1)


@pytest.mark.skipif(AIRFLOW_3, reason="Airflow 3 asks its API for the first reschedule instead")
def test_airflow_2_reads_the_first_reschedule_from_its_table(airflow_db):
    from airflow.sensors import base

    assert callable(base._orig_start_date)
    started = airflow2_first_reschedule_start(
        dag_id="no-such-dag", task_id="wait", run_id="no-such-run", map_index=-1, try_number=1
    )
    assert started is None  # no reschedule recorded for this try


@pytest.mark.skipif(not AIRFLOW_3, reason="Airflow 2 keeps the first start_date across reschedules")
def test_airflow_3_has_no_reschedule_table_to_read():
    started = airflow2_first_reschedule_start(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)
    assert started is None


def test_the_task_sdk_xcom_exists_exactly_on_airflow_3():
    xcom = task_sdk_xcom()
    if AIRFLOW_3:
        assert xcom is not None
        assert callable(xcom.get_all)
    else:
        assert xcom is None


async def _awaited(exchange: Any) -> Any:
    return await exchange
