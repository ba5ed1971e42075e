"""Bad input fails with a clear message before any AWS call: at DAG parse time when the value is known then.

One test per row. Constructors run no AWS call by nature; the run-time rows run real DAGs
(``tests/dag_files/faults_bad_input.py``) or ``execute`` against the emulator and check its call counts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.model.config import InvalidOptimizationJobConfigError
from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError
from airflow_provider_optjob.operators.optimization_job import (
    SageMakerCreateOptimizationJobOperator,
    SageMakerOptimizationJobResultOperator,
    SageMakerStopOptimizationJobOperator,
)
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor
from tests.airflow_runs import task_states
from tests.faults.runs import optimization_job_calls, run_dag_with_logs
from tests.job_requests import job_config

NAME_RULE = "only ASCII letters, digits and hyphens, and starts and ends with a letter or digit"

BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("a" * 64, id="64-characters"),
    pytest.param("-quantize-llama", id="leading-hyphen"),
    pytest.param("quantize-llama-", id="trailing-hyphen"),
    pytest.param("quantize_llama", id="underscore"),
    pytest.param("quantize llama", id="inner-space"),
    pytest.param(" quantize-llama", id="leading-space"),
    pytest.param("quantize-llama ", id="trailing-space"),
    pytest.param("quantize-llama\n", id="trailing-newline"),
    pytest.param("modèle-quantisé", id="non-ascii-letters"),
    pytest.param("quantize-llama-\uff13", id="non-ascii-digit"),
    pytest.param("quantize-🦙", id="emoji"),
]


def build_with_name(kind: str, job_name: Any) -> None:
    if kind == "sensor":
        SageMakerOptimizationJobSensor(task_id="wait", job_name=job_name)
    elif kind == "result operator":
        SageMakerOptimizationJobResultOperator(task_id="result", job_name=job_name)
    elif kind == "stop operator":
        SageMakerStopOptimizationJobOperator(task_id="stop", job_name=job_name)
    else:
        SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config(job_name))


KINDS = ["sensor", "result operator", "stop operator", "create operator"]


class TestJobNamesAtParseTime:
    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("job_name", BAD_NAMES)
    def test_bad_name_fails_in_the_constructor(self, kind, job_name):
        with pytest.raises(InvalidOptimizationJobNameError) as raised:
            build_with_name(kind, job_name)

        message = str(raised.value)
        assert repr(job_name) in message
        assert f"({len(job_name)} characters)" in message
        assert NAME_RULE in message

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("job_name", [None, 42, ["quantize-llama"]], ids=["none", "int", "list"])
    def test_name_that_is_not_a_string_fails_in_the_constructor(self, kind, job_name):
        # The create operator reports it as a config error (InvalidOptimizationJobConfigError): a ValueError too.
        with pytest.raises(ValueError, match="must be a string"):
            build_with_name(kind, job_name)

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("job_name", ["a", "a" * 63, "quantize--llama-3", "Q1"], ids=["1", "63", "hyphens", "case"])
    def test_names_at_the_limits_of_the_rule_are_accepted(self, kind, job_name):
        build_with_name(kind, job_name)


@pytest.mark.usefixtures("airflow_db")
class TestAtRunTime:
    def test_template_rendering_to_an_invalid_name_fails_before_any_aws_call(
        self, optjob_aws_conn, sagemaker_emulator, capfd
    ):
        dag_run, logs = run_dag_with_logs(capfd, "faults_bad_input.py", "faults_bad_rendered_name")

        assert task_states(dag_run) == {"wait": "failed", "result": "failed", "stop": "failed", "create": "failed"}
        rendered = re.findall(r"Invalid optimization job name '(opt_\d{8})' \(12 characters\)", logs)
        assert len(set(rendered)) == 1
        assert optimization_job_calls(sagemaker_emulator.control) == {}

    def test_a_template_that_renders_none_fails_at_once_naming_the_field_and_template(
        self, optjob_aws_conn, sagemaker_emulator, capfd
    ):
        dag_run, logs = run_dag_with_logs(capfd, "faults_bad_input.py", "faults_name_renders_nothing")

        assert set(task_states(dag_run).values()) == {"failed"}
        assert len(task_states(dag_run)) == 5
        template = "{{ ti.xcom_pull(task_ids='no_such_task', key='job_name') }}"
        assert logs.count(f"job_name rendered to 'None' from the template {template!r}") == 4
        assert logs.count(f"config['OptimizationJobName'] rendered to 'None' from the template {template!r}") == 1
        assert optimization_job_calls(sagemaker_emulator.control) == {}

    def test_unknown_connection_id_fails_before_any_aws_call(self, optjob_aws_conn, sagemaker_emulator, capfd):
        dag_run, logs = run_dag_with_logs(capfd, "faults_bad_input.py", "faults_bad_conn_id")

        assert task_states(dag_run) == {"wait": "failed", "create": "failed"}
        assert logs.count("The Airflow connection 'aws_typo' does not exist") >= 2
        assert sagemaker_emulator.control.call_counts() == {}

    def test_unknown_connection_id_is_named_by_the_hook_check(self, optjob_aws_conn):
        sensor = SageMakerOptimizationJobSensor(task_id="wait", job_name="any-job", aws_conn_id="aws_typo")

        with pytest.raises(OptimizationJobConnectionError, match=re.escape("'aws_typo' does not exist. Create it")):
            sensor.hook.check_connection_exists()

    def test_nested_wrong_type_in_config_fails_before_any_aws_call(self, optjob_aws_conn, sagemaker_emulator):
        config = job_config("nested-wrong-type", OutputConfig={"S3OutputLocation": 5})
        operator = SageMakerCreateOptimizationJobOperator(task_id="create", config=config, aws_conn_id=optjob_aws_conn)

        with pytest.raises(Exception, match=r"Invalid type for parameter OutputConfig\.S3OutputLocation"):
            operator.execute({})

        assert optimization_job_calls(sagemaker_emulator.control) == {}


def without(*keys: str) -> dict[str, Any]:
    config = job_config("quantize-llama")
    for key in keys:
        del config[key]
    return config


class TestCreateConfigAtParseTime:
    @pytest.mark.parametrize(
        ("config", "message"),
        [
            pytest.param(without("RoleArn"), "missing required field(s) RoleArn of", id="no-role"),
            pytest.param(
                without("OptimizationJobName", "OutputConfig"),
                "missing required field(s) OptimizationJobName, OutputConfig of",
                id="no-name-no-output",
            ),
            pytest.param({}, "missing required field(s) OptimizationJobName, RoleArn, ModelSource", id="empty"),
            pytest.param([job_config("quantize-llama")], "config must be a dict", id="list"),
            pytest.param('{"OptimizationJobName": "quantize-llama"}', "config must be a dict", id="json-string"),
            pytest.param(
                job_config("quantize-llama", MaxInstanceCount="2"),
                "MaxInstanceCount must be an integer",
                id="count-str",
            ),
            pytest.param(
                job_config("quantize-llama", MaxInstanceCount=True),
                "MaxInstanceCount must be an integer",
                id="count-bool",
            ),
            pytest.param(
                job_config("quantize-llama", OptimizationConfigs={"ModelQuantizationConfig": {}}),
                "OptimizationConfigs must be a list of optimization configs",
                id="configs-dict",
            ),
            pytest.param(
                job_config(
                    "quantize-llama",
                    OptimizationConfigs=[{"ModelQuantizationConfig": {}, "ModelCompilationConfig": {}}],
                ),
                "OptimizationConfigs[0] must be a dict with exactly one of",
                id="two-kinds-in-one-entry",
            ),
            pytest.param(
                job_config("quantize-llama", OptimizationEnvironment="OPTION_DTYPE=fp16"),
                "OptimizationEnvironment must be a dict of environment variables",
                id="environment-str",
            ),
            pytest.param(
                job_config("quantize-llama", StoppingCondition=3600),
                "StoppingCondition must be a dict (with MaxRuntimeInSeconds)",
                id="stopping-int",
            ),
            pytest.param(
                job_config("quantize-llama", Tags={"team": "ml"}), "Tags must be a list of {'Key'", id="tags-dict"
            ),
            pytest.param(
                job_config("quantize-llama", RoleArn=None), "RoleArn must be a string (an IAM role ARN)", id="role-none"
            ),
        ],
    )
    def test_bad_config_fails_in_the_constructor(self, config, message):
        with pytest.raises(InvalidOptimizationJobConfigError) as raised:
            SageMakerCreateOptimizationJobOperator(task_id="create", config=config)

        assert message in str(raised.value)


class TestWaitSettingsAtParseTime:
    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            pytest.param({"poke_interval": 0}, "poke_interval must be more than 0 seconds, got 0", id="zero-interval"),
            pytest.param({"poke_interval": -30}, "poke_interval must be more than 0 seconds, got -30", id="negative"),
            pytest.param({"timeout": 0}, "timeout must be more than 0 seconds, got 0", id="zero-timeout"),
            pytest.param({"timeout": -1}, "timeout must be more than 0 seconds, got -1", id="negative-timeout"),
            pytest.param(
                {"poke_interval": 120, "timeout": 60},
                "timeout (60 s) is shorter than poke_interval (120 s)",
                id="short",
            ),
            pytest.param(
                {"not_found_grace_period": -1}, "not_found_grace_period must not be negative, got -1", id="grace"
            ),
            pytest.param(
                {"poke_interval": "60"},
                "poke_interval must be a number of seconds or a timedelta, got '60'",
                id="string",
            ),
        ],
    )
    def test_sensor(self, arguments, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            SageMakerOptimizationJobSensor(task_id="wait", job_name="quantize-llama", **arguments)

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            pytest.param({"poke_interval": 0}, "poke_interval must be more than 0 seconds, got 0", id="zero-interval"),
            pytest.param({"poke_interval": -1.5}, "poke_interval must be more than 0 seconds, got -1.5", id="negative"),
            pytest.param({"max_wait": -1}, "timeout must be more than 0 seconds, got -1", id="negative-max-wait"),
            pytest.param(
                {"poke_interval": 60, "max_wait": 10}, "timeout (10 s) is shorter than poke_interval (60 s)", id="short"
            ),
            pytest.param(
                {"not_found_grace_period": -5}, "not_found_grace_period must not be negative, got -5", id="grace"
            ),
        ],
    )
    def test_create_operator(self, arguments, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config("quantize-llama"), **arguments)

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            pytest.param({"poke_interval": 0}, "poke_interval must be more than 0 seconds, got 0", id="zero-interval"),
            pytest.param(
                {"poke_interval": 30, "max_wait": 5}, "timeout (5 s) is shorter than poke_interval (30 s)", id="short"
            ),
        ],
    )
    def test_stop_operator(self, arguments, message):
        with pytest.raises(ValueError, match=re.escape(message)):
            SageMakerStopOptimizationJobOperator(task_id="stop", job_name="quantize-llama", **arguments)


@pytest.mark.parametrize("if_exists", ["atach", "Attach", "skip", ""])
def test_misspelled_if_exists_fails_in_the_constructor(if_exists):
    with pytest.raises(
        ValueError, match=re.escape(f"if_exists must be one of 'attach', 'adopt', 'fail', got {if_exists!r}")
    ):
        SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("quantize-llama"), if_exists=if_exists
        )


def test_intervals_may_be_given_as_timedeltas():
    from datetime import timedelta

    from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor

    sensor = SageMakerOptimizationJobSensor(
        task_id="wait",
        job_name="job-a",
        poke_interval=timedelta(seconds=30),
        timeout=timedelta(hours=2),
        not_found_grace_period=timedelta(minutes=1),
    )

    assert (sensor.poke_interval, sensor.timeout, sensor.not_found_grace_period) == (30.0, 7200.0, 60.0)
