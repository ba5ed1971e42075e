"""The trimmed ``sagemaker`` model the async client reads: complete for what it calls, cheap to parse, optional."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import botocore.loaders
import botocore.model
import pytest

from airflow_provider_optjob.triggerer_runtime import service_model
from airflow_provider_optjob.triggerer_runtime.service_model import (
    ASYNC_OPERATIONS,
    SERVICE,
    trim_endpoints,
    trim_service_model,
    use_trimmed_service_data,
)


@pytest.fixture
def private_tempdir(tmp_path, monkeypatch):
    """Point the cache at a fresh temporary directory, so each test builds the files itself."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def full_model() -> dict[str, Any]:
    loader = botocore.loaders.create_loader()
    model: dict[str, Any] = loader.load_service_model(SERVICE, "service-2")
    return model


def shape_tree(shape: botocore.model.Shape | None, seen: frozenset[str] = frozenset()) -> Any:
    """The wire-relevant structure of a shape: its type, member names and their trees (recursion cut by name)."""
    if shape is None or shape.name in seen:
        return shape and shape.name
    seen = seen | {shape.name}
    tree: dict[str, Any] = {"type": shape.type_name, "serialization": shape.serialization}
    if isinstance(shape, botocore.model.StructureShape):
        tree["members"] = {name: shape_tree(member, seen) for name, member in shape.members.items()}
        tree["required"] = sorted(shape.required_members)
    elif isinstance(shape, botocore.model.ListShape):
        tree["member"] = shape_tree(shape.member, seen)
    elif isinstance(shape, botocore.model.MapShape):
        tree["key"], tree["value"] = shape_tree(shape.key, seen), shape_tree(shape.value, seen)
    elif isinstance(shape, botocore.model.StringShape):
        tree["enum"] = list(shape.enum)
    return tree


@pytest.mark.parametrize("operation", ASYNC_OPERATIONS)
def test_each_kept_operation_has_the_full_models_input_output_and_errors(operation):
    full = botocore.model.ServiceModel(full_model(), SERVICE)
    trimmed = botocore.model.ServiceModel(trim_service_model(full_model(), ASYNC_OPERATIONS), SERVICE)

    expected, actual = full.operation_model(operation), trimmed.operation_model(operation)

    assert shape_tree(actual.input_shape) == shape_tree(expected.input_shape)
    assert shape_tree(actual.output_shape) == shape_tree(expected.output_shape)
    assert [error.name for error in actual.error_shapes] == [error.name for error in expected.error_shapes]
    assert trimmed.metadata == full.metadata


def test_the_trimmed_model_has_only_the_async_operations_and_no_documentation():
    trimmed = trim_service_model(full_model(), ASYNC_OPERATIONS)

    assert sorted(trimmed["operations"]) == sorted(ASYNC_OPERATIONS)
    assert "documentation" not in str(list(trimmed["shapes"].values()))
    assert len(trimmed["shapes"]) < len(full_model()["shapes"]) / 20


def test_an_operation_the_model_lacks_is_an_error():
    with pytest.raises(KeyError, match="DescribeNothing"):
        trim_service_model(full_model(), ("DescribeNothing",))


def test_the_trimmed_endpoints_keep_every_partition_with_only_sagemaker():
    endpoints = botocore.loaders.create_loader().load_data("endpoints")

    prefix = full_model()["metadata"]["endpointPrefix"]

    trimmed = trim_endpoints(endpoints, prefix)

    assert [p["partition"] for p in trimmed["partitions"]] == [p["partition"] for p in endpoints["partitions"]]
    assert {name for p in trimmed["partitions"] for name in p["services"]} == {prefix}
    assert trimmed["partitions"][0]["services"][prefix] == endpoints["partitions"][0]["services"][prefix]


def test_a_session_loader_reads_the_trimmed_files_once_built(private_tempdir):
    loader = botocore.loaders.create_loader()

    assert use_trimmed_service_data(loader)

    model = loader.load_service_model(SERVICE, "service-2")
    assert sorted(model["operations"]) == sorted(ASYNC_OPERATIONS)
    assert loader.search_paths[0].startswith(str(private_tempdir))
    built = sorted(path.relative_to(loader.search_paths[0]).as_posix() for path in private_tempdir.rglob("*.json"))
    assert built[0] == "endpoints.json"
    assert built[1].startswith("sagemaker/")
    assert built[1].endswith("/service-2.json")


def test_a_cache_directory_others_can_write_to_is_not_used(private_tempdir):
    shared = private_tempdir / f"airflow-provider-optjob-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    loader = botocore.loaders.create_loader()

    assert not use_trimmed_service_data(loader)
    assert not any(path.startswith(str(private_tempdir)) for path in loader.search_paths)


def test_when_the_files_cannot_be_built_the_full_model_is_used_and_said(private_tempdir, tmp_path, caplog):
    empty = tmp_path / "no-botocore-data"
    empty.mkdir()
    loader = botocore.loaders.Loader(extra_search_paths=[str(empty)], include_default_search_paths=False)

    with caplog.at_level(logging.WARNING, logger=service_model.__name__):
        assert not use_trimmed_service_data(loader)

    assert loader.search_paths == [str(empty)]
    assert "Using botocore's full sagemaker model" in caplog.text


async def test_the_shared_async_client_is_built_from_the_trimmed_model(private_tempdir, optjob_aws_conn):
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

    hook = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)

    async with hook.async_client() as client:
        operations = sorted(client.meta.service_model.operation_names)

    assert operations == sorted(ASYNC_OPERATIONS)


async def test_the_shared_async_client_reads_tags_for_the_event_triggers_tag_filter(private_tempdir, optjob_aws_conn):
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from tests.job_requests import job_config

    hook = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)
    tags = [{"Key": "team", "Value": "ml"}]
    arn = hook.create_optimization_job(job_config("tagged-for-events", Tags=tags))["OptimizationJobArn"]

    async with hook.async_client() as client:
        response = await client.list_tags(ResourceArn=arn)

    assert "ListTags" in ASYNC_OPERATIONS
    assert response["Tags"] == tags
