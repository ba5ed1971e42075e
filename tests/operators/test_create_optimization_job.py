"""The create operator: ownership, re-runs after a failed job, kill semantics, rendered configs, masking, defaults."""

from __future__ import annotations

import logging
import secrets
from importlib.metadata import version
from typing import Any

import pytest

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.exceptions import (
    OptimizationJobFailedError,
    OptimizationJobOwnedElsewhereError,
    OptimizationJobWaitTimeoutError,
)
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.model.name import validate_job_name
from airflow_provider_optjob.model.ownership import JobOwner
from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from tests.airflow_runs import load_dag, run_dag, task_states, xcom_value
from tests.faults.runs import run_dag_with_logs
from tests.job_requests import job_config
from tests.task_context import RecordingTaskInstance

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,unused-ignore]

DAG_FILE = "create_ownership.py"


class OwnerTaskInstance(RecordingTaskInstance):
    """A task instance with the identity the create operator tags its jobs with."""

    def __init__(self, try_number: int = 1, dag_id: str = "nightly", map_index: int = -1) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.task_id = "create"
        self.run_id = "manual__2026-01-01T00:00:00+00:00"
        self.map_index = map_index
        self.try_number = try_number


def airflow_redact(text: str) -> str:
    """Redact ``text`` with Airflow's secrets masker, as its task log handlers do."""
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:
        try:
            from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef,unused-ignore]
        except ImportError:  # Airflow 2
            from airflow.utils.log.secrets_masker import redact  # type: ignore[no-redef,unused-ignore]
    return str(redact(text))


def owner_context(**identity: Any) -> tuple[Any, OwnerTaskInstance]:
    ti = OwnerTaskInstance(**identity)
    return {"ti": ti}, ti


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


def create_as(hook: SageMakerOptimizationJobHook, job_name: str, ti: OwnerTaskInstance | None) -> None:
    """Create a job the way a try of ``ti`` would have (``None``: by hand, without owner tags)."""
    tags = [] if ti is None else JobOwner.of_task_instance(ti).tags(ti.try_number)
    hook.create_optimization_job(job_config(job_name, Tags=tags))


def tags_of(hook: SageMakerOptimizationJobHook, job_name: str) -> dict[str, str]:
    arn = hook.describe_optimization_job(job_name)["OptimizationJobArn"]
    return {tag["Key"]: tag["Value"] for tag in hook.list_tags(arn)}


def job_names(hook: SageMakerOptimizationJobHook, contains: str) -> list[str]:
    return sorted(job["OptimizationJobName"] for job in hook.list_optimization_jobs(NameContains=contains))


class TestCreate:
    def test_creates_a_job_tagged_with_its_owner_and_pushes_its_name(self, hook, sagemaker_emulator):
        context, ti = owner_context(map_index=3)

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-tagged"), wait_for_completion=False
        ).execute(context)

        assert outcome["job_name"] == "create-tagged"
        assert ti.pushed["job_name"] == "create-tagged"
        assert ti.pushed["sagemaker_optimization_job"]["job_name"] == "create-tagged"
        assert tags_of(hook, "create-tagged") == {
            "airflow:dag_id": "nightly",
            "airflow:task_id": "create",
            "airflow:run_id": "manual__2026-01-01T00:00:00+00:00",
            "airflow:map_index": "3",
            "airflow:try_number": "1",
        }

    def test_user_tags_are_kept_next_to_the_owner_tags(self, hook, sagemaker_emulator):
        config = job_config("create-user-tags", Tags=[{"Key": "team", "Value": "ml"}])

        SageMakerCreateOptimizationJobOperator(task_id="create", config=config, wait_for_completion=False).execute(
            owner_context()[0]
        )

        assert tags_of(hook, "create-user-tags")["team"] == "ml"
        assert tags_of(hook, "create-user-tags")["airflow:dag_id"] == "nightly"

    def test_creates_and_waits_on_the_worker(self, hook, sagemaker_emulator):
        context, ti = owner_context()

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-wait"), deferrable=False, poke_interval=0.1
        ).execute(context)

        assert outcome["status"] == "COMPLETED"
        assert ti.pushed["job_result"] == outcome

    def test_waiting_on_the_worker_gives_up_at_max_wait(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("create-slow", inprogress_seconds=120)
        context, ti = owner_context()

        with pytest.raises(OptimizationJobWaitTimeoutError, match=r"'create-slow' did not finish within 0\.5 s"):
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("create-slow"), deferrable=False, poke_interval=0.1, max_wait=0.5
            ).execute(context)

        assert ti.pushed["job_name"] == "create-slow"

    def test_job_name_is_pushed_before_a_failed_wait(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("create-fails", failure_reason="Out of memory")
        context, ti = owner_context()

        with pytest.raises(OptimizationJobFailedError, match="Out of memory"):
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("create-fails"), deferrable=False, poke_interval=0.1
            ).execute(context)

        assert ti.pushed["job_name"] == "create-fails"

    def test_create_without_waiting_rides_out_not_found_right_after_create(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.add_fault(
            "not_found_after_create", "DescribeOptimizationJob", after_create_seconds=1.5
        )
        context, _ = owner_context()

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-not-visible-yet"), wait_for_completion=False
        ).execute(context)

        assert outcome["job_name"] == "create-not-visible-yet"
        assert outcome["status"] in {"STARTING", "INPROGRESS", "COMPLETED"}


class TestOwnership:
    def test_a_retry_attaches_to_its_own_running_job(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("own-running", final_status="COMPLETED", inprogress_seconds=120)
        create_as(hook, "own-running", OwnerTaskInstance(try_number=1))
        context, ti = owner_context(try_number=2)

        SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("own-running"), wait_for_completion=False
        ).execute(context)

        assert ti.pushed["job_name"] == "own-running"
        assert job_names(hook, "own-running") == ["own-running"]

    def test_a_retry_after_its_job_failed_runs_a_new_job_under_a_derived_name(self, hook, sagemaker_emulator):
        create_as(hook, "own-failed", OwnerTaskInstance(try_number=1))
        sagemaker_emulator.control.fail_job("own-failed", "Out of memory")
        context, ti = owner_context(try_number=2)

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("own-failed"), deferrable=False, poke_interval=0.1
        ).execute(context)

        assert outcome["status"] == "COMPLETED"
        assert outcome["job_name"] == ti.pushed["job_name"] == "own-failed-r2"
        assert tags_of(hook, "own-failed-r2")["airflow:try_number"] == "2"

    def test_a_retry_after_a_stopped_job_that_a_later_try_reran_attaches_to_the_rerun(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("own-chain-r2", final_status="COMPLETED", inprogress_seconds=120)
        create_as(hook, "own-chain", OwnerTaskInstance(try_number=1))
        sagemaker_emulator.control.set_job_status("own-chain", "STOPPED")
        create_as(hook, "own-chain-r2", OwnerTaskInstance(try_number=2))
        context, ti = owner_context(try_number=3)

        SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("own-chain"), wait_for_completion=False
        ).execute(context)

        assert ti.pushed["job_name"] == "own-chain-r2"
        assert job_names(hook, "own-chain") == ["own-chain", "own-chain-r2"]

    def test_the_try_that_created_a_failed_job_comes_back_to_it(self, hook, sagemaker_emulator):
        """A worker that died after creating the job runs the same try again: no second job."""
        create_as(hook, "own-same-try", OwnerTaskInstance(try_number=1))
        sagemaker_emulator.control.fail_job("own-same-try", "Out of memory")
        context, _ = owner_context(try_number=1)

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("own-same-try"), wait_for_completion=False
        ).execute(context)

        assert outcome["status"] == "FAILED"
        assert job_names(hook, "own-same-try") == ["own-same-try"]

    @pytest.mark.parametrize(
        ("owner", "named"),
        [
            (OwnerTaskInstance(dag_id="someone-else"), "dag_id='someone-else'"),
            (OwnerTaskInstance(map_index=7), "map_index=7"),
            (None, "carries no Airflow owner tags"),
        ],
        ids=["other-dag", "other-map-index", "untagged"],
    )
    def test_a_job_owned_by_someone_else_is_an_error_naming_the_owner(self, hook, sagemaker_emulator, owner, named):
        job_name = f"foreign-{owner.dag_id if owner else 'untagged'}-{owner.map_index if owner else 0}"
        create_as(hook, job_name, owner)

        with pytest.raises(OptimizationJobOwnedElsewhereError) as raised:
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config(job_name), wait_for_completion=False
            ).execute(owner_context()[0])

        assert named in str(raised.value)
        assert "if_exists='adopt'" in str(raised.value)
        assert sagemaker_emulator.control.call_counts().get("StopOptimizationJob") is None

    def test_adopt_attaches_to_a_foreign_job(self, hook, sagemaker_emulator):
        create_as(hook, "foreign-adopted", None)
        context, ti = owner_context()

        SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("foreign-adopted"), if_exists="adopt", wait_for_completion=False
        ).execute(context)

        assert ti.pushed["job_name"] == "foreign-adopted"
        assert job_names(hook, "foreign-adopted") == ["foreign-adopted"]

    def test_if_exists_fail_refuses_a_job_from_an_earlier_try(self, hook, sagemaker_emulator):
        create_as(hook, "own-fail-mode", OwnerTaskInstance(try_number=1))

        with pytest.raises(AirflowException, match=r"from an earlier try of this task exists .* if_exists='fail'"):
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("own-fail-mode"), if_exists="fail"
            ).execute(owner_context(try_number=2)[0])


class TestKill:
    def test_on_kill_stops_the_job_this_try_created(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("kill-created", inprogress_seconds=120)
        operator = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("kill-created"), wait_for_completion=False
        )
        operator.execute(owner_context()[0])

        operator.on_kill()

        assert hook.describe_optimization_job("kill-created")["OptimizationJobStatus"] in {"STOPPING", "STOPPED"}

    def test_on_kill_leaves_a_job_it_attached_to_running(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("kill-attached", final_status="COMPLETED", inprogress_seconds=120)
        create_as(hook, "kill-attached", OwnerTaskInstance(try_number=1))
        operator = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("kill-attached"), wait_for_completion=False
        )
        operator.execute(owner_context(try_number=2)[0])

        operator.on_kill()

        assert hook.describe_optimization_job("kill-attached")["OptimizationJobStatus"] in {"STARTING", "INPROGRESS"}
        assert sagemaker_emulator.control.call_counts().get("StopOptimizationJob") is None

    @pytest.mark.parametrize(("created_before", "stops"), [(False, True), (True, False)], ids=["created", "attached"])
    def test_the_trigger_may_stop_only_a_job_this_try_created(self, hook, sagemaker_emulator, created_before, stops):
        job_name = f"kill-trigger-{'attached' if created_before else 'created'}"
        sagemaker_emulator.control.script_job(job_name, final_status="COMPLETED", inprogress_seconds=120)
        if created_before:
            create_as(hook, job_name, OwnerTaskInstance(try_number=1))

        with pytest.raises(TaskDeferred) as deferred:
            SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config(job_name)).execute(
                owner_context(try_number=2)[0]
            )

        _, kwargs = deferred.value.trigger.serialize()
        assert kwargs["stop_job_on_kill"] is stops


class TestConfigChecks:
    @pytest.mark.parametrize(
        ("config", "message"),
        [
            ("not a dict", "config must be a dict"),
            ({k: v for k, v in job_config("x").items() if k != "RoleArn"}, "missing required field.*RoleArn"),
            (
                job_config("x", OptimizationConfigs={"ModelQuantizationConfig": {}}),
                "OptimizationConfigs must be a list",
            ),
            (job_config("x", MaxInstanceCount="2"), "MaxInstanceCount must be an integer"),
            (job_config("x", OptimizationConfigs=[{}]), r"OptimizationConfigs\[0\] must be a dict with exactly one"),
            (job_config("bad_name"), "Invalid optimization job name 'bad_name'"),
            (
                job_config("x", RoleArn="{{ var.value.role }}", OptimizationConfigs=[{}]),
                r"OptimizationConfigs\[0\] must be a dict with exactly one",
            ),
        ],
        ids=[
            "not-a-dict",
            "missing-key",
            "wrong-type-list",
            "wrong-type-int",
            "empty-optimization",
            "bad-name",
            "known-part-of-a-templated-config",
        ],
    )
    def test_a_config_known_when_defined_fails_when_defined(self, config, message):
        with pytest.raises(ValueError, match=message):
            SageMakerCreateOptimizationJobOperator(task_id="create", config=config)

    @pytest.mark.parametrize(
        "config",
        [
            "{{ ti.xcom_pull(task_ids='build_config') }}",
            job_config("x", OptimizationConfigs="{{ params.optimization_configs }}"),
            job_config("x", OptimizationConfigs=["{{ params.quantization }}"]),
            job_config("{{ ds_nodash }}", MaxInstanceCount="{{ params.count }}"),
        ],
        ids=["whole-config", "OptimizationConfigs", "one-OptimizationConfigs-entry", "name-and-int"],
    )
    def test_templated_parts_wait_for_rendering(self, config):
        operator = SageMakerCreateOptimizationJobOperator(task_id="create", config=config)

        assert operator.config == config

    def test_misspelled_if_exists_fails_when_the_task_is_defined(self):
        with pytest.raises(ValueError, match="if_exists must be one of 'attach', 'adopt', 'fail'"):
            SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config("x"), if_exists="atach")  # type: ignore[arg-type]

    def test_config_is_templated_and_rendered_as_json(self):
        assert "config" in SageMakerCreateOptimizationJobOperator.template_fields
        assert SageMakerCreateOptimizationJobOperator.template_fields_renderers == {"config": "json"}


@pytest.mark.parametrize(
    ("setting", "argument", "expected"),
    [(None, None, True), ("False", None, False), ("True", None, True), ("False", True, True), (None, False, False)],
    ids=["unset", "set-false", "set-true", "argument-over-setting", "argument"],
)
def test_deferrable_follows_the_default_deferrable_setting(monkeypatch, setting, argument, expected):
    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    if setting is not None:
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", setting)
    arguments = {} if argument is None else {"deferrable": argument}

    operator = SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config("x"), **arguments)

    assert operator.deferrable is expected


AIRFLOW_3_0 = version("apache-airflow").startswith("3.0.")
#: Airflow 3.0's ``dag.test()`` keeps no failed task's error where a test can read it (no stdout, no log record).
DAG_TEST_LOGS_TASK_ERRORS = not AIRFLOW_3_0


@pytest.mark.usefixtures("airflow_db")
class TestInRealAirflow:
    def test_deferrable_create_waits_in_the_trigger(self, optjob_aws_conn, sagemaker_emulator):
        dag_run = run_dag(load_dag("operator_lifecycle.py", "create_deferrable"))

        assert task_states(dag_run) == {"create": "success"}
        assert xcom_value(dag_run, "create")["status"] == "COMPLETED"
        assert xcom_value(dag_run, "create", "job_name") == "lifecycle-deferred"
        assert sagemaker_emulator.control.call_counts()["CreateOptimizationJob"] == 1

    @pytest.mark.parametrize(
        "mode",
        [
            pytest.param(
                "deferrable",
                marks=pytest.mark.xfail(
                    AIRFLOW_3_0,
                    reason="Airflow 3.0 counts the resume from a deferral as a try, so retries=1 is spent when the "
                    "failed job's event arrives; a real 3.0 deployment does the same "
                    "(tests/deployment/test_task_endings.py, failed_job)",
                ),
            ),
            "worker",
        ],
    )
    def test_a_retry_after_a_failed_job_runs_a_new_job_and_downstream_follows_it(
        self, hook, optjob_aws_conn, sagemaker_emulator, mode
    ):
        job_name = f"ownership-retried-{mode}"
        sagemaker_emulator.control.script_job(job_name, failure_reason="Out of memory")

        dag_run = run_dag(load_dag(DAG_FILE, f"ownership_retried_{mode}"))

        assert task_states(dag_run) == {"create": "success", "report": "success"}
        assert xcom_value(dag_run, "report") == {"job_name": f"{job_name}-r2", "status": "COMPLETED"}
        assert hook.describe_optimization_job(job_name)["OptimizationJobStatus"] == "FAILED"
        assert tags_of(hook, f"{job_name}-r2")["airflow:dag_id"] == f"ownership_retried_{mode}"

    def test_a_foreign_job_fails_the_task_naming_its_owner(self, hook, optjob_aws_conn, sagemaker_emulator, capfd):
        create_as(hook, "ownership-foreign", OwnerTaskInstance(dag_id="someone-else"))

        dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, "ownership_foreign")

        assert task_states(dag_run) == {"create": "failed", "report": "success"}
        if DAG_TEST_LOGS_TASK_ERRORS:
            assert "is owned by dag_id='someone-else'" in logs
        assert hook.describe_optimization_job("ownership-foreign")["OptimizationJobStatus"] != "STOPPED"

    def test_the_advice_of_the_foreign_job_error_gives_each_run_its_own_job(
        self, hook, optjob_aws_conn, sagemaker_emulator
    ):
        create_as(hook, "ownership-foreign", OwnerTaskInstance(dag_id="someone-else"))
        context, _ = owner_context(try_number=1)
        with pytest.raises(OptimizationJobOwnedElsewhereError) as raised:
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("ownership-foreign"), wait_for_completion=False
            ).execute(context)
        assert "job_name_per_run('ownership-foreign')" in str(raised.value)

        runs = [run_dag(load_dag(DAG_FILE, "name_per_run")) for _ in range(2)]  # the DAG follows that advice

        assert [task_states(run) for run in runs] == [{"create": "success", "report": "success"}] * 2
        names = [xcom_value(run, "report")["job_name"] for run in runs]
        assert len(set(names)) == 2
        for name in names:
            assert name.startswith("ownership-foreign-")
            assert validate_job_name(name) == name
            assert tags_of(hook, name)["airflow:dag_id"] == "name_per_run"

    def test_adopt_attaches_to_a_foreign_job(self, hook, optjob_aws_conn, sagemaker_emulator):
        create_as(hook, "ownership-adopt", None)

        dag_run = run_dag(load_dag(DAG_FILE, "ownership_adopt"))

        assert task_states(dag_run) == {"create": "success", "report": "success"}
        assert xcom_value(dag_run, "report") == {"job_name": "ownership-adopt", "status": "COMPLETED"}
        assert job_names(hook, "ownership-adopt") == ["ownership-adopt"]

    def test_config_from_xcomargs_is_checked_after_rendering(self, hook, optjob_aws_conn, sagemaker_emulator):
        dag_run = run_dag(load_dag(DAG_FILE, "config_xcomarg"))

        assert task_states(dag_run)["report_both"] == "success"
        assert xcom_value(dag_run, "report_both") == ["config-xcomarg-whole", "config-xcomarg-member"]

    def test_natively_rendered_optimization_configs_are_used_as_a_list(self, hook, optjob_aws_conn, sagemaker_emulator):
        dag_run = run_dag(load_dag(DAG_FILE, "config_jinja_native"))

        assert task_states(dag_run) == {"create": "success", "report": "success"}
        sent = hook.describe_optimization_job("config-jinja-native")["OptimizationConfigs"]
        assert sent == [{"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}}]

    def test_a_template_rendered_to_a_string_fails_with_a_clear_message(
        self, optjob_aws_conn, sagemaker_emulator, capfd
    ):
        dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, "config_jinja_string")

        assert task_states(dag_run) == {"create": "failed", "report": "success"}
        if DAG_TEST_LOGS_TASK_ERRORS:
            assert "config field OptimizationConfigs must be a list of optimization configs, got str." in logs
            assert "render_template_as_native_obj=True" in logs
        assert sagemaker_emulator.control.call_counts().get("CreateOptimizationJob") is None

    def test_only_sensitive_environment_values_are_masked_in_task_logs(
        self, optjob_aws_conn, sagemaker_emulator, capfd, caplog, monkeypatch
    ):
        """
        The create task logs every environment value; Airflow's masker, as the run left it, hides only secrets.

        ``dag.test()`` prints task logs to standard output without the redaction a task log handler applies
        (and writes no log files), so the logged line is passed through Airflow's own ``redact``. The line is
        looked for in standard output and in the log records (where it lands depends on the Airflow version).
        """
        token, login = f"hf_{secrets.token_hex(16)}", f"login-{secrets.token_hex(16)}"
        monkeypatch.setenv("OPTJOB_TEST_HF_TOKEN", token)
        monkeypatch.setenv("OPTJOB_TEST_HUB_LOGIN", login)

        caplog.set_level(logging.INFO, logger="airflow.task")

        dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, "masking")

        assert task_states(dag_run) == {"create": "success"}
        logged = next(line for line in (logs + caplog.text).splitlines() if "quantize=" in line)
        assert "quantize=awq degree=1 entrypoint=djl_python.huggingface token=*** login=***" in airflow_redact(logged)
