"""Short-lived assumed-role credentials: lifetime, rejection of expired keys, request log, refreshing clients."""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import boto3.session
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, Credentials, DeferredRefreshableCredentials
from botocore.exceptions import ClientError

from airflow_provider_optjob.testing import EmulatorControlError, SageMakerEmulator
from airflow_provider_optjob.testing.__main__ import _parser

if TYPE_CHECKING:
    from collections.abc import Iterator

ROLE_ARN = "arn:aws:iam::123456789012:role/OptimizationJobsRole"
EXPIRED_MESSAGE = "The security token included in the request is expired"
NO_RETRY = Config(retries={"total_max_attempts": 1})
#: The short credential lifetime of the refreshing clients below: each of their calls refreshes first, and a
#: loaded machine has this long between a refresh and the call it signs.
LIFETIME = 2.0
RUN_SECONDS = 3 * LIFETIME + 0.2  # the refreshing clients' calls span more than three lifetimes
POLL_SECONDS = 0.2


@pytest.fixture
def lifetime(emulator: SageMakerEmulator) -> Iterator[Any]:
    """``lifetime(seconds)`` sets the emulator's credential lifetime; the previous one is restored afterwards."""
    control = emulator.control
    previous = control.credential_lifetime()
    try:
        yield control.set_credential_lifetime
    finally:
        control.set_credential_lifetime(previous)


@functools.cache
def _boto3_session() -> Any:
    """One boto3 session for the clients of these tests: once its service models are loaded, a client is ready
    in milliseconds, well within the short credential lifetimes used here."""
    session = boto3.session.Session()
    for service in ("sagemaker", "sts"):
        session.client(service, region_name="us-east-1")
    return session


def _sts(emulator: SageMakerEmulator) -> Any:
    return _boto3_session().client(
        "sts",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY,
    )


def _client_with(emulator: SageMakerEmulator, credentials: dict[str, Any], service: str = "sagemaker") -> Any:
    return _boto3_session().client(
        service,
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=NO_RETRY,
    )


def _assume_role(emulator: SageMakerEmulator, **kwargs: Any) -> dict[str, Any]:
    credentials: dict[str, Any] = _sts(emulator).assume_role(RoleArn=ROLE_ARN, RoleSessionName="airflow", **kwargs)[
        "Credentials"
    ]
    return credentials


def _wait_until_expired(emulator: SageMakerEmulator, access_key_id: str) -> None:
    (issued,) = [c for c in emulator.control.issued_credentials() if c["access_key_id"] == access_key_id]
    time.sleep(max(0.0, issued["expires_at"] - time.time()) + 0.05)


def _seconds_between(start: float, expiration: datetime) -> float:
    return (expiration - datetime.fromtimestamp(start, timezone.utc)).total_seconds()


# --- lifetime ------------------------------------------------------------------------------------------------


def test_assume_role_credentials_carry_the_configured_lifetime(emulator, lifetime):
    assert lifetime(120) == 120
    before = time.time()
    credentials = _assume_role(emulator)
    after = time.time()
    expiration = credentials["Expiration"]
    assert isinstance(expiration, datetime)
    # Expiration is the issue time plus the lifetime (to the millisecond the response carries).
    assert _seconds_between(before, expiration) >= 120 - 0.01
    assert _seconds_between(after, expiration) <= 120 + 0.01

    (issued,) = emulator.control.issued_credentials()
    assert issued["access_key_id"] == credentials["AccessKeyId"]
    assert issued["operation"] == "AssumeRole"
    assert issued["expires_at"] - issued["issued_at"] == pytest.approx(120)
    assert abs(issued["expires_at"] - expiration.timestamp()) < 0.002
    assert issued["expired"] is False


def test_shorter_requested_duration_wins_and_default_is_motos(emulator, lifetime):
    lifetime(3600)
    start = time.time()
    expiration = _assume_role(emulator, DurationSeconds=900)["Expiration"]
    assert _seconds_between(start, expiration) == pytest.approx(900, abs=5)

    lifetime(None)
    start = time.time()
    expiration = _assume_role(emulator)["Expiration"]
    assert _seconds_between(start, expiration) == pytest.approx(3600, abs=5)  # moto's default
    assert len(emulator.control.issued_credentials()) == 2


def test_web_identity_credentials_carry_the_configured_lifetime(emulator, lifetime):
    lifetime(45)
    start = time.time()
    credentials = _sts(emulator).assume_role_with_web_identity(
        RoleArn=ROLE_ARN, RoleSessionName="airflow", WebIdentityToken="a-web-identity-token"
    )["Credentials"]
    assert _seconds_between(start, credentials["Expiration"]) == pytest.approx(45, abs=5)
    (issued,) = emulator.control.issued_credentials()
    assert (issued["access_key_id"], issued["operation"]) == (credentials["AccessKeyId"], "AssumeRoleWithWebIdentity")


def test_lifetime_control_validates_and_survives_reset(emulator, lifetime):
    control = emulator.control
    assert lifetime(2.5) == 2.5
    assert control.credential_lifetime() == 2.5
    for bad in (0, -1, float("inf")):
        with pytest.raises(EmulatorControlError) as exc:
            control.set_credential_lifetime(bad)
        assert exc.value.status == 400
    for payload in ({"lifetime_seconds": "ten"}, {"lifetime_seconds": True}, {}):
        with pytest.raises(EmulatorControlError):
            control._request("POST", "credentials", payload)
    assert control.credential_lifetime() == 2.5
    _assume_role(emulator)
    control.reset(moto=False)
    assert control.credential_lifetime() == 2.5
    assert control.issued_credentials() == []
    assert control.requests() == []
    assert lifetime(None) is None


def test_emulator_option_and_cli_flag():
    with pytest.raises(ValueError, match="credential lifetime"):
        SageMakerEmulator(credential_lifetime_seconds=0)
    with SageMakerEmulator(credential_lifetime_seconds=3) as other:
        assert other.control.credential_lifetime() == 3
    assert _parser().parse_args([]).credential_lifetime_seconds is None
    assert _parser().parse_args(["--credential-lifetime", "3"]).credential_lifetime_seconds == 3.0
    assert _parser().parse_args(["--credential-lifetime-seconds", "0.5"]).credential_lifetime_seconds == 0.5
    for bad in ("0", "-2", "soon", "nan"):
        with pytest.raises(SystemExit):
            _parser().parse_args(["--credential-lifetime", bad])


# --- rejecting expired keys ----------------------------------------------------------------------------------


def test_fresh_issued_keys_pass_and_expired_ones_are_rejected(emulator, lifetime, sm):
    lifetime(3600)
    credentials = _assume_role(emulator)
    sagemaker = _client_with(emulator, credentials)
    assert sagemaker.list_optimization_jobs()["OptimizationJobSummaries"] == []

    expired = emulator.control.expire_credentials(credentials["AccessKeyId"])
    assert expired["access_key_id"] == credentials["AccessKeyId"]
    assert expired["expired"] is True
    with pytest.raises(ClientError) as exc:
        sagemaker.list_optimization_jobs()
    assert exc.value.response["Error"] == {"Code": "ExpiredTokenException", "Message": EXPIRED_MESSAGE}
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as exc:  # operations served by moto too
        sagemaker.list_models()
    assert exc.value.response["Error"]["Code"] == "ExpiredTokenException"
    with pytest.raises(ClientError) as exc:  # STS (query protocol) says it its own way
        _client_with(emulator, credentials, "sts").get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "ExpiredToken"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # Keys the emulator did not issue are accepted as before, whatever the lifetime.
    assert sm.list_optimization_jobs()["OptimizationJobSummaries"] == []
    (issued,) = emulator.control.issued_credentials()
    assert issued["expired"] is True


def test_keys_are_rejected_once_their_lifetime_has_passed(emulator, lifetime):
    lifetime(LIFETIME)
    credentials = _assume_role(emulator)
    _wait_until_expired(emulator, credentials["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        _client_with(emulator, credentials).list_optimization_jobs()
    assert exc.value.response["Error"] == {"Code": "ExpiredTokenException", "Message": EXPIRED_MESSAGE}


def test_expiring_a_key_the_emulator_did_not_issue_is_refused(emulator):
    with pytest.raises(EmulatorControlError, match="no issued credentials"):
        emulator.control.expire_credentials("AKIANOTISSUED")


async def test_aiobotocore_fresh_issued_keys_pass_and_expired_ones_are_rejected(emulator, lifetime):
    from aiobotocore.session import get_session

    lifetime(3600)
    credentials = _assume_role(emulator)
    async with get_session().create_client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=NO_RETRY,
    ) as sagemaker:
        assert (await sagemaker.list_optimization_jobs())["OptimizationJobSummaries"] == []
        await asyncio.to_thread(emulator.control.expire_credentials, credentials["AccessKeyId"])
        with pytest.raises(ClientError) as exc:
            await sagemaker.describe_optimization_job(OptimizationJobName="any-job")
        assert exc.value.response["Error"] == {"Code": "ExpiredTokenException", "Message": EXPIRED_MESSAGE}
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- request log ---------------------------------------------------------------------------------------------


def test_request_log_names_the_signing_keys_and_assume_role(emulator, lifetime, sm):
    lifetime(3600)
    control = emulator.control
    sm.list_optimization_jobs()
    first = _assume_role(emulator)
    _client_with(emulator, first).list_optimization_jobs()
    control.expire_credentials(first["AccessKeyId"])
    with pytest.raises(ClientError):
        _client_with(emulator, first).list_optimization_jobs()
    second = _assume_role(emulator)
    _client_with(emulator, second).list_optimization_jobs()

    log = control.requests()
    assert [(e["operation"], e["service"], e["access_key_id"], e["status"], e["error_code"]) for e in log] == [
        ("ListOptimizationJobs", "sagemaker", "testing", 200, None),
        ("AssumeRole", "sts", "testing", 200, None),
        ("ListOptimizationJobs", "sagemaker", first["AccessKeyId"], 200, None),
        ("ListOptimizationJobs", "sagemaker", first["AccessKeyId"], 400, "ExpiredTokenException"),
        ("AssumeRole", "sts", "testing", 200, None),
        ("ListOptimizationJobs", "sagemaker", second["AccessKeyId"], 200, None),
    ]
    assert [e["seq"] for e in log] == sorted(e["seq"] for e in log)
    assert all(a["time"] <= b["time"] for a, b in itertools.pairwise(log))
    assert len(control.requests("AssumeRole")) == 2
    assert control.access_keys_used("ListOptimizationJobs") == ["testing", first["AccessKeyId"], second["AccessKeyId"]]
    assert control.call_counts()["AssumeRole"] == 2

    control.add_fault("throttle", "DescribeOptimizationJob", count=1)
    with pytest.raises(ClientError):
        _client_with(emulator, second).describe_optimization_job(OptimizationJobName="any-job")
    assert control.requests("DescribeOptimizationJob")[-1]["error_code"] == "ThrottlingException"

    control.clear_requests()
    assert control.requests() == []
    assert control.call_counts()["AssumeRole"] == 2  # the call counts are separate


# --- clients that refresh through AssumeRole -----------------------------------------------------------------


def _check_refreshing_run(emulator: SageMakerEmulator, results: list[Any]) -> None:
    assert all(r == [] for r in results)
    control = emulator.control
    calls = control.requests("ListOptimizationJobs")
    assert len(calls) == len(results)
    assert all(e["status"] == 200 and e["error_code"] is None for e in control.requests())
    issued = {c["access_key_id"]: c for c in control.issued_credentials()}
    keys = control.access_keys_used("ListOptimizationJobs")
    assert set(keys) <= set(issued), "every SageMaker call was signed with assumed-role keys"
    assert all(e["time"] < issued[e["access_key_id"]]["expires_at"] for e in calls)
    assert calls[-1]["time"] - calls[0]["time"] > 3 * LIFETIME
    # No key outlived one lifetime, and the calls spanned more than three: at least four successive keys.
    assert len(keys) >= 4
    assert len(control.requests("AssumeRole")) >= len(keys)


def test_botocore_refreshable_credentials_refresh_through_assume_role(emulator, lifetime):
    lifetime(LIFETIME)
    session: Any = botocore.session.Session()  # credentials are set on it as botocore's resolver would
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=functools.partial(
            session.create_client, endpoint_url=emulator.url, region_name="us-east-1", config=NO_RETRY
        ),
        source_credentials=Credentials("testing", "testing"),
        role_arn=ROLE_ARN,
        extra_args={"RoleSessionName": "airflow-sync"},
    )
    credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method="assume-role")
    session._credentials = credentials
    sagemaker: Any = boto3.session.Session(botocore_session=session).client(
        "sagemaker", endpoint_url=emulator.url, region_name="us-east-1", config=NO_RETRY
    )

    results = [sagemaker.list_optimization_jobs()["OptimizationJobSummaries"]]
    started = time.time()
    while True:
        sent = time.time()
        results.append(sagemaker.list_optimization_jobs()["OptimizationJobSummaries"])
        if sent - started > RUN_SECONDS:
            break
        time.sleep(POLL_SECONDS)
    _check_refreshing_run(emulator, results)


async def test_aiobotocore_refreshable_credentials_refresh_through_assume_role(emulator, lifetime):
    from aiobotocore.credentials import (
        AioAssumeRoleCredentialFetcher,
        AioCredentials,
        AioDeferredRefreshableCredentials,
    )
    from aiobotocore.session import get_session

    lifetime(LIFETIME)
    session = get_session()
    fetcher = AioAssumeRoleCredentialFetcher(
        client_creator=functools.partial(
            session.create_client, endpoint_url=emulator.url, region_name="us-east-1", config=NO_RETRY
        ),
        source_credentials=AioCredentials("testing", "testing"),
        role_arn=ROLE_ARN,
        extra_args={"RoleSessionName": "airflow-async"},
    )
    session._credentials = AioDeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )

    async with session.create_client(
        "sagemaker", endpoint_url=emulator.url, region_name="us-east-1", config=NO_RETRY
    ) as sagemaker:
        results = [(await sagemaker.list_optimization_jobs())["OptimizationJobSummaries"]]
        started = time.time()
        while True:
            sent = time.time()
            results.append((await sagemaker.list_optimization_jobs())["OptimizationJobSummaries"])
            if sent - started > RUN_SECONDS:
                break
            await asyncio.sleep(POLL_SECONDS)
    await asyncio.to_thread(_check_refreshing_run, emulator, results)


def test_issued_credentials_expiry_is_consistent_with_botocore(emulator, lifetime):
    """botocore sees the short expiry, so it treats such credentials as due for a refresh at once."""
    lifetime(LIFETIME)
    credentials = _assume_role(emulator)
    remaining = credentials["Expiration"] - datetime.now(timezone.utc)
    assert timedelta(0) < remaining <= timedelta(seconds=LIFETIME)
