# Shared setup for the project's scripts: uv (installed from PyPI when missing) and interpreter lookup.
# shellcheck shell=bash

export UV_PYTHON_DOWNLOADS=never
export UV_LINK_MODE=copy
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PROJECT_ROOT

# ensure_uv: make `uv` runnable by the calling script, installing it from PyPI when missing. uv lands in
# Python's user scripts folder (usually ~/.local/bin, which is often not on PATH), or, where pip refuses
# --user installs (PEP 668 "externally managed" Pythons), in a small venv of its own, linked as ~/.local/bin/uv.
# Either way the folder is added to this script's PATH, and its location is printed with the line that puts it
# on the user's PATH.
UV_VENV="${XDG_DATA_HOME:-$HOME/.local/share}/airflow-provider-optjob/uv-venv"

use_uv_from() {
    local folder="$1"
    export PATH="$folder:$PATH"
    echo "using uv at $folder/uv (not on your PATH; to run uv yourself: export PATH=\"$folder:\$PATH\")" >&2
}

ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        return
    fi
    local user_bin folder
    user_bin="$(python3 -c 'import site, os; print(os.path.join(site.getuserbase(), "bin"))')"
    for folder in "$user_bin" "$HOME/.local/bin" "$HOME/.cargo/bin"; do
        if [ -x "$folder/uv" ]; then
            use_uv_from "$folder"
            return
        fi
    done
    echo "uv not found; installing it from PyPI" >&2
    if python3 -m pip install --quiet --user "uv>=0.5" 2>/dev/null && [ -x "$user_bin/uv" ]; then
        use_uv_from "$user_bin"
    elif python3 -m venv "$UV_VENV" && "$UV_VENV/bin/python" -m pip install --quiet "uv>=0.5"; then
        # Link uv alone into ~/.local/bin: the venv's folder would also put its python and pip first on PATH.
        mkdir -p "$HOME/.local/bin" && ln -sf "$UV_VENV/bin/uv" "$HOME/.local/bin/uv"
        use_uv_from "$HOME/.local/bin"
    fi
    command -v uv >/dev/null 2>&1 || { echo "could not install uv; install it (https://docs.astral.sh/uv/) and retry" >&2; exit 1; }
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
