"""The README's Python snippets, run as written: a new user's DAG and first test, in a project of their own.

Each ``python`` block of the README starts with a comment naming the file it belongs in (``# dags/...``,
``# conftest.py``, ``# tests/...``). The test writes them into a fresh project directory and runs pytest there
in a subprocess of this interpreter, with no Airflow or AWS settings inherited: the plugin alone must set up
Airflow, its database, the DAG bundle and the emulator, and the README's own test must pass (it asserts that
the sensor deferred). The testing guide's DAG test runs there too, and one more test file makes the create
task fail early, to check that the failure logs no error that is not one (the console link's missing XCom).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The checkout, or the copy of tests/, dags/, docs/ and README.md that scripts/compat-matrix tests.
PROJECT_ROOT = Path(__file__).parent.parent
README = PROJECT_ROOT / "README.md"
TESTING_GUIDE = PROJECT_ROOT / "docs" / "testing.rst"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_FILE_COMMENT = re.compile(r"#\s*(\S+\.py)\s*$")
_INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR")

EARLY_FAILURE_TEST = """
from dags.quantize_llama import dag


def test_access_denied_fails_the_create_task(optjob_dag_test, sagemaker_emulator):
    sagemaker_emulator.control.add_fault("access_denied", operation="CreateOptimizationJob")

    dag_run = optjob_dag_test(dag)

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["create_optimization_job"] == "failed"
"""


def readme_files(text: str) -> dict[str, str]:
    """
    Map each file named by a README ``python`` block's first line to the block's code.

    :param text: the README's Markdown.
    """
    files: dict[str, str] = {}
    for block in _BLOCK.findall(text):
        first_line = block.splitlines()[0]
        match = _FILE_COMMENT.fullmatch(first_line)
        assert match, f"README python block does not start with '# <file>.py': {first_line!r}"
        files[match.group(1)] = block
    return files


def guide_test_module(text: str) -> str:
    """
    Return the testing guide's ``code-block:: python`` that starts with ``# tests/test_quantize_llama.py``.

    :param text: the guide's reStructuredText.
    """
    for block in re.findall(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text, re.MULTILINE):
        code = textwrap.dedent(block)
        if code.startswith("# tests/test_quantize_llama.py"):
            return code
    raise AssertionError("docs/testing.rst has no code block for tests/test_quantize_llama.py")


def user_environment(home: Path) -> dict[str, str]:
    """
    Return a clean environment, as a new user's shell would have: no Airflow, AWS or test settings.

    :param home: the ``HOME`` to use (a directory of the test's own, so nothing lands in the real one).
    """
    home.mkdir(exist_ok=True)
    return {**{name: os.environ[name] for name in _INHERITED if name in os.environ}, "HOME": str(home)}


def test_every_python_block_names_its_file() -> None:
    files = readme_files(README.read_text())

    assert set(files) == {"dags/quantize_llama.py", "conftest.py", "tests/test_quantize_llama.py"}


def test_the_snippets_dont_template_on_the_logical_date() -> None:
    code = "\n".join(readme_files(README.read_text()).values())

    assert not re.search(r"\{\{\s*(ds|ds_nodash|ts|ts_nodash|logical_date|execution_date)\b", code)


@pytest.mark.timeout(600)
def test_a_new_users_project_passes_as_written(tmp_path: Path) -> None:
    project = tmp_path / "my-airflow-project"
    for name, code in readme_files(README.read_text()).items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(code)
    (project / "tests" / "test_from_the_guide.py").write_text(guide_test_module(TESTING_GUIDE.read_text()))
    (project / "tests" / "test_early_failure.py").write_text(EARLY_FAILURE_TEST)

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "--rootdir", str(project), str(project)],
        cwd=project,
        env=user_environment(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=540,
    )

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "PASSED tests/test_quantize_llama.py::test_quantize_llama" in output
    assert "PASSED tests/test_early_failure.py::test_access_denied_fails_the_create_task" in output
    assert "PASSED tests/test_from_the_guide.py::test_failed_job_fails_the_sensor" in output
    assert "XCom not found" not in output, output[-6000:]
