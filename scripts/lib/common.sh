# Shared setup for the project's scripts: uv (installed from PyPI when missing) and interpreter lookup.
# shellcheck shell=bash

export UV_PYTHON_DOWNLOADS=never
export UV_LINK_MODE=copy
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PROJECT_ROOT

ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        return
    fi
    echo "uv not found; installing it from PyPI" >&2
    python3 -m pip install --quiet --user "uv>=0.5" || python3 -m pip install --quiet "uv>=0.5"
    export PATH="$HOME/.local/bin:$PATH"
    command -v uv >/dev/null 2>&1 || { echo "could not install uv" >&2; exit 1; }
}

# find_python 3.12 -> path of an installed CPython 3.12 (PATH first, then pyenv's versions).
find_python() {
    local version="$1" candidate
    for candidate in "python${version}" "$HOME"/.pyenv/versions/"${version}".*/bin/python"${version}" \
        /usr/local/bin/python"${version}" /usr/bin/python"${version}"; do
        if [ -x "$(command -v "$candidate" 2>/dev/null || echo "$candidate")" ] \
            && "$candidate" -c 'import sys' >/dev/null 2>&1; then
            command -v "$candidate" 2>/dev/null || echo "$candidate"
            return 0
        fi
    done
    echo "Python ${version} not found (looked on PATH and in ~/.pyenv/versions)" >&2
    return 1
}

# sync_dev_env: the project's locked development environment in .venv (Python 3.11).
sync_dev_env() {
    ensure_uv
    local python
    python="$(find_python 3.11)"
    (cd "$PROJECT_ROOT" && uv sync --frozen --python "$python" --quiet)
}
