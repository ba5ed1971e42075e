"""The emulator seen through aiobotocore (as the triggerer does)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError


@pytest.mark.asyncio
async def test_aiobotocore_create_poll_and_faults(emulator, job_request):
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    ) as client:
        emulator.control.script_job("async-job", failure_reason="ClientError: async failure", hold=True)
        await client.create_optimization_job(**job_request("async-job"))
        statuses = []
        for step in range(3):
            if step:
                await asyncio.to_thread(emulator.control.advance_job, "async-job")
            described = await client.describe_optimization_job(OptimizationJobName="async-job")
            statuses.append(described["OptimizationJobStatus"])
        assert statuses == ["STARTING", "INPROGRESS", "FAILED"]
        assert described["FailureReason"] == "ClientError: async failure"

        emulator.control.add_fault("throttle", "DescribeOptimizationJob", count=1)
        with pytest.raises(ClientError) as exc:
            await client.describe_optimization_job(OptimizationJobName="async-job")
        assert exc.value.response["Error"]["Code"] == "ThrottlingException"

        with pytest.raises(client.exceptions.ResourceNotFound):
            await client.describe_optimization_job(OptimizationJobName="nope")

        emulator.control.add_fault("connection_reset", "DescribeOptimizationJob", count=1)
        with pytest.raises((BotoCoreError, aiohttp.ClientError)):
            await client.describe_optimization_job(OptimizationJobName="async-job")
