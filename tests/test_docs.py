"""The docs' Python blocks stay valid: each one compiles, and every name it imports from this package exists."""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
from pathlib import Path

import pytest

DOCS = Path(__file__).parent.parent / "docs"
_BLOCK = re.compile(r"^\.\. code-block:: python\n((?:\n|[ \t]+.*\n)+)", re.MULTILINE)


def python_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted(DOCS.glob("*.rst")):
        for number, match in enumerate(_BLOCK.finditer(page.read_text()), start=1):
            blocks.append((f"{page.name}#{number}", textwrap.dedent(match.group(1)).strip() + "\n"))
    return blocks


BLOCKS = python_blocks()


def test_the_docs_have_python_blocks():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_each_python_block_compiles_and_imports_what_exists(where, code):
    tree = ast.parse(code, filename=where)  # a SyntaxError names the page and the block

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow_provider_optjob"):
            module = importlib.import_module(str(node.module))
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module} has no {alias.name}"
