"""Reading a connection from async code: where the reading runs, one lookup at a time, and the fingerprint."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, cast

import pytest

from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.triggerer_runtime.connection_lookup import ConnectionSettings, aget_connection_settings

EXTRA = {"endpoint_url": "http://127.0.0.1:1", "region_name": "eu-west-1", "role_arn": "arn:aws:iam::1:role/r"}


class RecordingConnection:
    """A connection that records the thread its extras are read on (masking them talks to the supervisor)."""

    def __init__(self, login: str = "AKIAEXAMPLE") -> None:
        self.conn_id, self.conn_type, self.host, self.schema, self.port = "optjob_lookup", "aws", None, None, None
        self.login, self.password, self.extra = login, "secret-key", json.dumps(EXTRA)
        self.read_on: list[int] = []

    @property
    def extra_dejson(self) -> dict[str, Any]:
        self.read_on.append(threading.get_ident())
        return dict(EXTRA)


class AsyncLookupHook:
    """The Task SDK's shape on Airflow 3.1 and later: an awaitable lookup."""

    connection = RecordingConnection()
    running = 0
    most_at_once = 0

    @classmethod
    async def aget_connection(cls, conn_id: str) -> RecordingConnection:
        cls.running += 1
        cls.most_at_once = max(cls.most_at_once, cls.running)
        await asyncio.sleep(0.01)
        cls.running -= 1
        return cls.connection


class SyncLookupHook:
    """The shape on Airflow 3.0 and 2.x: only the blocking lookup."""

    connection = RecordingConnection()

    @classmethod
    def get_connection(cls, conn_id: str) -> RecordingConnection:
        return cls.connection


async def test_an_async_lookup_reads_the_extras_on_the_loops_thread_one_lookup_at_a_time():
    AsyncLookupHook.connection = RecordingConnection()
    AsyncLookupHook.most_at_once = 0
    settings = await asyncio.gather(*(aget_connection_settings(AsyncLookupHook, "optjob_lookup") for _ in range(5)))
    assert {s.extra_dejson["role_arn"] for s in settings} == {EXTRA["role_arn"]}
    assert set(AsyncLookupHook.connection.read_on) == {threading.get_ident()}
    assert AsyncLookupHook.most_at_once == 1


class CountingLookupHook:
    """An awaitable lookup that counts its calls and returns the connection as it is when the call starts."""

    login = "AKIABEFORE"
    calls = 0
    started = asyncio.Event()

    @classmethod
    async def aget_connection(cls, conn_id: str) -> RecordingConnection:
        cls.calls += 1
        cls.started.set()
        connection = RecordingConnection(login=cls.login)
        await asyncio.sleep(0.05)
        return connection


@pytest.fixture
def counting_hook() -> type[CountingLookupHook]:
    CountingLookupHook.login, CountingLookupHook.calls, CountingLookupHook.started = "AKIABEFORE", 0, asyncio.Event()
    return CountingLookupHook


async def test_triggers_that_ask_together_share_a_lookup_that_started_after_they_asked(counting_hook):
    settings = await asyncio.gather(*(aget_connection_settings(counting_hook, "optjob_shared") for _ in range(50)))

    assert {s.login for s in settings} == {"AKIABEFORE"}
    assert counting_hook.calls == 2  # the first asker's own lookup, then one for the 49 queued behind it


async def test_a_lookup_in_flight_when_a_trigger_asked_does_not_answer_it(counting_hook):
    first = asyncio.create_task(aget_connection_settings(counting_hook, "optjob_shared"))
    await counting_hook.started.wait()
    counting_hook.login = "AKIAROTATED"  # the keys rotate while the first lookup is in flight
    second = await aget_connection_settings(counting_hook, "optjob_shared")

    assert (await first).login == "AKIABEFORE"
    assert second.login == "AKIAROTATED"
    assert counting_hook.calls == 2


async def test_each_connection_id_has_its_own_lookup(counting_hook):
    names = ["optjob_one", "optjob_two", "optjob_one", "optjob_two"]
    await asyncio.gather(*(aget_connection_settings(counting_hook, name) for name in names))

    assert counting_hook.calls == 3  # optjob_one's first; then one for each id, shared by that id's queued askers


async def test_a_blocking_lookup_and_its_reading_run_in_a_worker_thread():
    SyncLookupHook.connection = RecordingConnection()
    settings = await aget_connection_settings(SyncLookupHook, "optjob_lookup")
    assert settings.login == "AKIAEXAMPLE"
    assert settings.extra_dejson == EXTRA
    assert len(SyncLookupHook.connection.read_on) == 1
    assert SyncLookupHook.connection.read_on[0] != threading.get_ident()


async def test_a_missing_connection_is_named_in_the_error(optjob_aws_conn):
    with pytest.raises(OptimizationJobConnectionError, match="'optjob_no_such_connection' does not exist"):
        await aget_connection_settings(SageMakerOptimizationJobHook, "optjob_no_such_connection")


async def test_settings_of_a_stored_connection_build_the_amazon_providers_wrapper(monkeypatch):
    from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

    stored = {"conn_type": "aws", "login": "AKIASTORED", "password": "stored-secret", "extra": EXTRA}
    monkeypatch.setenv("AIRFLOW_CONN_OPTJOB_STORED", json.dumps(stored))
    settings = await aget_connection_settings(SageMakerOptimizationJobHook, "optjob_stored")
    wrapper = AwsConnectionWrapper(conn=cast("Any", settings))
    assert (wrapper.aws_access_key_id, wrapper.aws_secret_access_key) == ("AKIASTORED", "stored-secret")
    assert (wrapper.endpoint_url, wrapper.region_name, wrapper.role_arn) == (
        EXTRA["endpoint_url"],
        EXTRA["region_name"],
        EXTRA["role_arn"],
    )
    assert "stored-secret" not in repr(settings)


def test_the_fingerprint_follows_every_field_that_shapes_a_client():
    base = ConnectionSettings.read(RecordingConnection())
    assert base.fingerprint() == ConnectionSettings.read(RecordingConnection()).fingerprint()
    assert base.fingerprint() != ConnectionSettings.read(RecordingConnection(login="AKIAROTATED")).fingerprint()
    moved = ConnectionSettings(**{**base.__dict__, "extra": json.dumps({**EXTRA, "endpoint_url": "http://other"})})
    assert base.fingerprint() != moved.fingerprint()
    assert "secret-key" not in base.fingerprint()
