"""Sphinx configuration for the airflow-provider-optjob documentation."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "airflow_provider_optjob"


def _read_version() -> str:
    """Read ``__version__`` from the package without importing it (or Airflow)."""
    text = (PACKAGE_DIR / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if match is None:
        raise RuntimeError("__version__ not found in airflow_provider_optjob/__init__.py")
    return match.group(1)


# -- Project ----------------------------------------------------------------------------------------

project = "airflow-provider-optjob"
author = "airflow-provider-optjob developers"
copyright = f"2026, {author}"
release = _read_version()
version = ".".join(release.split(".")[:2])

# -- General ----------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.viewcode",
    "autoapi.extension",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
root_doc = "index"
default_role = "code"
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# No network access at build time: no intersphinx inventories are fetched.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

# -- sphinx-autoapi: reads the source with astroid, never imports it (no Airflow needed) -------------

autoapi_type = "python"
autoapi_dirs = [str(PACKAGE_DIR)]
autoapi_root = "autoapi"
autoapi_add_toctree_entry = False
autoapi_keep_files = False
autoapi_member_order = "groupwise"
autoapi_python_class_content = "class"
autoapi_options = [
    "members",
    "undoc-members",
    "show-inheritance",
    "show-module-summary",
    "imported-members",
]
autoapi_ignore = ["*/__main__.py"]

# ``airflow_provider_optjob.compat`` re-exports Airflow names from inside ``try``/``except ImportError``
# (Airflow 3's ``common.compat.sdk`` or the Airflow 2 locations). autoapi reads source without
# importing, cannot follow those imports into Airflow, and warns once per re-exported name used
# elsewhere in the package. The names still render (as their import paths); only the warning is muted.
suppress_warnings = ["autoapi.python_import_resolution"]

# -- HTML -------------------------------------------------------------------------------------------

html_theme = "furo"
html_title = f"{project} {release}"
html_static_path: list[str] = []
html_theme_options = {
    "source_repository": "",
    "navigation_with_keys": True,
}
