"""The emulator's HTTP server keeps connections open between requests, as SageMaker's endpoints do."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import boto3
import pytest

from airflow_provider_optjob.testing import SageMakerEmulator

LIST_HEADERS = {
    "X-Amz-Target": "SageMaker.ListOptimizationJobs",
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sagemaker/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture
def own_emulator():
    with SageMakerEmulator() as emulator:
        yield emulator


def connect(emulator: SageMakerEmulator) -> http.client.HTTPConnection:
    address = urlsplit(emulator.url)
    return http.client.HTTPConnection(str(address.hostname), address.port, timeout=30)


def list_jobs(connection: http.client.HTTPConnection, **headers: str) -> http.client.HTTPResponse:
    connection.request("POST", "/", body=json.dumps({}), headers={**LIST_HEADERS, **headers})
    response = connection.getresponse()
    assert json.loads(response.read()) == {"OptimizationJobSummaries": []}
    return response


def test_requests_share_one_connection(own_emulator):
    connection = connect(own_emulator)
    answers = [list_jobs(connection) for _ in range(3)]
    connection.request("GET", "/_emulator/health")
    health = connection.getresponse()

    assert json.loads(health.read()) == {"status": "ok"}
    assert [answer.version for answer in answers] == [11, 11, 11]
    assert not any(answer.will_close for answer in [*answers, health])
    assert own_emulator.connections_accepted == 1


def test_a_body_the_application_did_not_read_does_not_spoil_the_next_request(own_emulator):
    connection = connect(own_emulator)
    connection.request("POST", "/_emulator/health", body=b'{"ignored": "' + b"x" * 10_000 + b'"}')
    refused = connection.getresponse()
    refused.read()

    assert refused.status == 404  # no POST route: the body was never read
    assert not list_jobs(connection).will_close
    assert own_emulator.connections_accepted == 1


def test_a_client_that_asks_to_close_gets_its_connection_closed(own_emulator):
    connection = connect(own_emulator)
    assert list_jobs(connection, Connection="close").will_close
    list_jobs(connection)  # http.client opens a new connection
    assert own_emulator.connections_accepted == 2


def test_a_boto3_client_reuses_its_connection(own_emulator):
    client = boto3.client(
        "sagemaker",
        endpoint_url=own_emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for _ in range(20):
        client.list_optimization_jobs()
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_optimization_job(OptimizationJobName="missing")
    client.list_models()  # served by moto, on the same connection

    assert own_emulator.connections_accepted == 1
    assert own_emulator.control.connections() == {"accepted": 2, "open": 2}  # the control client's own, too


def test_stopping_closes_the_open_connections():
    emulator = SageMakerEmulator().start()
    connection = connect(emulator)
    list_jobs(connection)
    emulator.stop()

    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        list_jobs(connection)
