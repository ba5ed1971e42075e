"""A completed optimization job as a SageMaker model: the ``CreateModel`` request built from its Describe response.

The mapping follows the SageMaker Python SDK's (``ModelBuilder.optimize``; ``_generate_optimized_model`` in SDK v2,
``_generate_optimized_core_model`` in v3, with the environment and draft model the builder prepared before the job):

- ``PrimaryContainer.Image``: ``OptimizationOutput.RecommendedInferenceImage``;
- ``PrimaryContainer.ModelDataSource.S3DataSource``: ``OutputConfig.S3OutputLocation`` as an uncompressed
  ``S3Prefix``, with ``ModelAccessConfig.AcceptEula`` when the job's ``ModelSource.S3`` accepted the model's EULA;
- ``PrimaryContainer.Environment``: see :func:`merged_environment`;
- a speculative-decoding draft model: an ``AdditionalModelDataSources`` entry on channel ``draft_model`` and
  ``OPTION_SPECULATIVE_DRAFT_MODEL`` pointing at where SageMaker mounts it (see :class:`DraftModel`);
- ``ExecutionRoleArn``: the job's ``RoleArn`` unless another role is given;
- a tag ``OptimizationJobName`` naming the job (the SDK's tag), by which a retry recognizes a model it made.

Nothing here calls AWS; the hook's
:meth:`~airflow_provider_optjob.hooks.optimization_job.SageMakerOptimizationJobHook.create_model_from_optimization_job`
describes the job and creates (or reuses) the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The tag (the SageMaker Python SDK's) naming the optimization job a model was built from.
SOURCE_JOB_TAG = "OptimizationJobName"
#: The channel of the draft model among the container's ``AdditionalModelDataSources`` (as the SDK names it).
DRAFT_MODEL_CHANNEL = "draft_model"
#: Where SageMaker mounts each ``AdditionalModelDataSources`` channel in the serving container.
ADDITIONAL_MODEL_DATA_ROOT = "/opt/ml/additional-model-data-sources"
#: The serving container's (LMI's) variable that names the draft model.
DRAFT_MODEL_ENVIRONMENT_KEY = "OPTION_SPECULATIVE_DRAFT_MODEL"
#: Left out of the model's environment, as the SDK does: with it set, the serving container downloads the
#: original model from the Hugging Face Hub instead of loading the optimized artifacts.
DROPPED_ENVIRONMENT_KEYS = frozenset({"HF_MODEL_ID"})

_SHARDING = "ModelShardingConfig"
_SPECULATIVE_DECODING = "ModelSpeculativeDecodingConfig"


class ModelFromJobError(ValueError):
    """An optimization job's output that cannot become a SageMaker model as asked, or a name already taken."""


@dataclass(frozen=True)
class DraftModel:
    """
    The draft model a speculative-decoding deployment serves next to the optimized model.

    ``DescribeOptimizationJob`` does not say where a draft model is, so it is given. An S3 URI (``s3://...``)
    becomes an ``AdditionalModelDataSources`` entry on channel ``draft_model`` (an uncompressed ``S3Prefix``),
    and ``OPTION_SPECULATIVE_DRAFT_MODEL`` points at its mount, ``/opt/ml/additional-model-data-sources/draft_model``;
    anything else (a model hub id) is set as ``OPTION_SPECULATIVE_DRAFT_MODEL`` itself, as the SDK does.

    :param source: the draft model's S3 prefix, or a model hub id.
    :param accept_eula: accept the draft model's end-user license agreement (``ModelAccessConfig.AcceptEula``).
    """

    source: str
    accept_eula: bool = False

    @property
    def is_s3(self) -> bool:
        """Whether the draft model lies in S3 (and is mounted as a channel)."""
        return self.source.startswith("s3://")

    def environment(self) -> dict[str, str]:
        """Return the container variables that point the serving container at the draft model."""
        where = f"{ADDITIONAL_MODEL_DATA_ROOT}/{DRAFT_MODEL_CHANNEL}" if self.is_s3 else self.source
        return {DRAFT_MODEL_ENVIRONMENT_KEY: where}

    def data_sources(self) -> list[dict[str, Any]]:
        """Return the container's ``AdditionalModelDataSources`` for the draft model (none for a hub id)."""
        if not self.is_s3:
            return []
        return [{"ChannelName": DRAFT_MODEL_CHANNEL, "S3DataSource": _s3_prefix(self.source, self.accept_eula)}]


def job_model_name(describe_response: Mapping[str, Any]) -> str | None:
    """
    Return the model the job was asked to create itself (``OutputConfig.SageMakerModel.ModelName``), if any.

    :param describe_response: the ``DescribeOptimizationJob`` response.
    """
    name = _mapping(_mapping(describe_response.get("OutputConfig")).get("SageMakerModel")).get("ModelName")
    return name if isinstance(name, str) and name else None


def merged_environment(describe_response: Mapping[str, Any], draft_model: DraftModel | None = None) -> dict[str, str]:
    """
    Return the model's container environment, merged as the SDK merges it.

    In order, later values winning on a clash: the draft model's ``OPTION_SPECULATIVE_DRAFT_MODEL``, the job's
    ``OptimizationEnvironment``, then each config's ``OverrideEnvironment`` in the order of
    ``OptimizationConfigs`` (so an override beats the job-wide value). ``HF_MODEL_ID`` is left out.

    :param describe_response: the ``DescribeOptimizationJob`` response.
    :param draft_model: the speculative-decoding draft model, if the deployment serves one.
    """
    merged: dict[str, str] = draft_model.environment() if draft_model is not None else {}
    environments = [describe_response.get("OptimizationEnvironment")]
    for entry in _optimization_configs(describe_response):
        environments.extend(_mapping(config).get("OverrideEnvironment") for config in entry.values())
    for environment in environments:
        merged.update((str(key), str(value)) for key, value in _mapping(environment).items())
    return {key: value for key, value in merged.items() if key not in DROPPED_ENVIRONMENT_KEYS}


def optimized_container(describe_response: Mapping[str, Any], draft_model: DraftModel | None = None) -> dict[str, Any]:
    """
    Return the ``PrimaryContainer`` that serves a completed job's optimized model.

    :param describe_response: the ``DescribeOptimizationJob`` response of a completed job.
    :param draft_model: the speculative-decoding draft model, if the deployment serves one.
    :raises ~airflow_provider_optjob.exceptions.ModelFromJobError:
        if the response names no recommended image or no output location.
    """
    name = _job_name(describe_response)
    image = _mapping(describe_response.get("OptimizationOutput")).get("RecommendedInferenceImage")
    output = _mapping(describe_response.get("OutputConfig")).get("S3OutputLocation")
    if not isinstance(image, str) or not image:
        raise ModelFromJobError(
            f"Optimization job {name!r} reports no OptimizationOutput.RecommendedInferenceImage, so there is no "
            "image to serve its model with."
        )
    if not isinstance(output, str) or not output:
        raise ModelFromJobError(f"Optimization job {name!r} reports no OutputConfig.S3OutputLocation to serve.")
    accept_eula = _mapping(_mapping(describe_response.get("ModelSource")).get("S3")).get("ModelAccessConfig")
    container: dict[str, Any] = {
        "Image": image,
        "ModelDataSource": {"S3DataSource": _s3_prefix(output, _mapping(accept_eula).get("AcceptEula") is True)},
    }
    environment = merged_environment(describe_response, draft_model)
    if environment:
        container["Environment"] = environment
    if draft_model is not None and draft_model.data_sources():
        container["AdditionalModelDataSources"] = draft_model.data_sources()
    return container


def model_request(
    describe_response: Mapping[str, Any],
    model_name: str,
    *,
    execution_role_arn: str | None = None,
    tags: Mapping[str, str] | None = None,
    vpc_config: Mapping[str, Any] | None = None,
    draft_model: DraftModel | None = None,
) -> dict[str, Any]:
    """
    Build the ``CreateModel`` request that deploys a completed job's output (see the module docstring).

    The job must be ``COMPLETED``: the hook checks that first (``check_completed``).

    A job that sharded its model (``ModelShardingConfig``) is refused: SageMaker serves a sharded model only through
    inference components, so a model for the usual endpoint config would not deploy. So is a job that used
    speculative decoding when no draft model is given, since the job's description does not say where it is.

    :param describe_response: the ``DescribeOptimizationJob`` response.
    :param model_name: the model's name.
    :param execution_role_arn: the role SageMaker assumes to serve the model (default: the job's ``RoleArn``).
    :param tags: more tags for the model (the ``OptimizationJobName`` tag is always the job's name).
    :param vpc_config: the model's ``VpcConfig``.
    :param draft_model: the speculative-decoding draft model to serve with it.
    :raises ~airflow_provider_optjob.exceptions.ModelFromJobError:
        for a sharded job, a speculative-decoding job without a draft model, or a response without the members the model
        needs.
    """
    name = _job_name(describe_response)
    kinds = {kind for entry in _optimization_configs(describe_response) for kind in entry}
    if _SHARDING in kinds:
        raise ModelFromJobError(
            f"Optimization job {name!r} sharded its model (ModelShardingConfig). SageMaker serves a sharded model only "
            "through inference components, on an endpoint whose config names no model, so a model created here "
            "would not deploy with an ordinary endpoint config. Let the job create the model itself "
            "(OutputConfig.SageMakerModel in the CreateOptimizationJob request; this operator then hands on that "
            "model's name) and deploy it with CreateInferenceComponent."
        )
    if _SPECULATIVE_DECODING in kinds and draft_model is None:
        raise ModelFromJobError(
            f"Optimization job {name!r} used speculative decoding (ModelSpeculativeDecodingConfig), and its "
            "description does not say where the draft model is. Give draft_model_source (the draft model's S3 "
            "prefix, or a model hub id), or let the job create the model itself (OutputConfig.SageMakerModel in "
            "the CreateOptimizationJob request)."
        )
    role = execution_role_arn or describe_response.get("RoleArn")
    if not isinstance(role, str) or not role:
        raise ModelFromJobError(f"Optimization job {name!r} reports no RoleArn: give execution_role_arn.")
    user_tags = [{"Key": key, "Value": value} for key, value in (tags or {}).items() if key != SOURCE_JOB_TAG]
    request: dict[str, Any] = {
        "ModelName": model_name,
        "ExecutionRoleArn": role,
        "PrimaryContainer": optimized_container(describe_response, draft_model),
        "Tags": [*user_tags, {"Key": SOURCE_JOB_TAG, "Value": name}],
    }
    if vpc_config:
        request["VpcConfig"] = dict(vpc_config)
    return request


def reuse_problems(
    described_model: Mapping[str, Any], model_tags: list[dict[str, str]], request: Mapping[str, Any]
) -> list[str]:
    """
    Say why an existing model cannot stand for the one ``request`` would create (an empty list: it can).

    It can when it carries the ``OptimizationJobName`` tag of the same job and its primary container holds
    everything the request sets (the environment exactly). The reasons never quote environment values.

    :param described_model: the ``DescribeModel`` response of the existing model.
    :param model_tags: its tags, as ``ListTags`` returns them.
    :param request: the ``CreateModel`` request built by :func:`model_request`.
    """
    problems: list[str] = []
    wanted_job = next(tag["Value"] for tag in request["Tags"] if tag["Key"] == SOURCE_JOB_TAG)
    found_job = next((tag.get("Value") for tag in model_tags if tag.get("Key") == SOURCE_JOB_TAG), None)
    if found_job != wanted_job:
        problems.append(
            f"it is not tagged {SOURCE_JOB_TAG}={wanted_job}"
            + (f" (its {SOURCE_JOB_TAG} tag is {found_job!r})" if found_job is not None else "")
        )
    found = _mapping(described_model.get("PrimaryContainer"))
    differing = [
        member
        for member, wanted in request["PrimaryContainer"].items()
        if (found.get(member) != wanted if member == "Environment" else not _holds(found.get(member), wanted))
    ]
    if "Environment" in found and "Environment" not in request["PrimaryContainer"]:
        differing.append("Environment")
    if differing:
        problems.append(f"its PrimaryContainer differs in {', '.join(differing)}")
    return problems


def _holds(found: object, wanted: object) -> bool:
    """Whether ``found`` has every member ``wanted`` has, with the same values (members AWS adds are ignored)."""
    if isinstance(wanted, Mapping):
        return isinstance(found, Mapping) and all(_holds(found.get(key), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(found, list)
            and len(found) == len(wanted)
            and all(_holds(item, expected) for item, expected in zip(found, wanted, strict=True))
        )
    return found == wanted


def _s3_prefix(s3_uri: str, accept_eula: bool) -> dict[str, Any]:
    source: dict[str, Any] = {"S3Uri": s3_uri, "S3DataType": "S3Prefix", "CompressionType": "None"}
    if accept_eula:
        source["ModelAccessConfig"] = {"AcceptEula": True}
    return source


def _optimization_configs(describe_response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    configs = describe_response.get("OptimizationConfigs")
    return [entry for entry in configs if isinstance(entry, Mapping)] if isinstance(configs, list) else []


def _job_name(describe_response: Mapping[str, Any]) -> str:
    name = describe_response.get("OptimizationJobName")
    return name if isinstance(name, str) else "?"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
