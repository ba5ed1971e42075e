"""A trimmed ``sagemaker`` service model for the triggerer's async client.

botocore's full ``sagemaker`` model (over 400 operations, 2 MB of JSON) and its ``endpoints`` table take
about 0.3 s of ``json.loads`` to read. ``json.loads`` holds the GIL for all of it, so even in a worker thread
it stalls the triggerer's event loop past Airflow's "blocked for" threshold. The async client only calls
:data:`ASYNC_OPERATIONS`, so it reads a model trimmed to those operations and the shapes they reach, and an
endpoints table trimmed to its endpoint prefix: a few milliseconds of parsing.

The trimmed files are built once per botocore version by a child process (the full parse happens there, not
under our process's GIL), cached in a private directory, and put first on the session loader's search path.
If they cannot be built, the client reads botocore's full files as before.

Run as a module to write the files:
``python -m airflow_provider_optjob.triggerer_runtime.service_model DIRECTORY SEARCH_PATH...``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

SERVICE = "sagemaker"
#: The operations the async client calls (the trigger's poll, the watcher's list, ``on_kill``'s stop, the event
#: trigger's tag filter).
ASYNC_OPERATIONS = ("DescribeOptimizationJob", "ListOptimizationJobs", "StopOptimizationJob", "ListTags")
_FORMAT_VERSION = "1"
_BUILD_TIMEOUT_SECONDS = 120

log = logging.getLogger(__name__)
_build_lock = threading.Lock()


def trim_service_model(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """
    Return ``model`` with only ``operations`` and the shapes they reach, without documentation.

    :param model: a botocore ``service-2`` model.
    :param operations: the operation names to keep.
    :raises KeyError: an operation is not in the model.
    """
    kept_operations = {name: _without_documentation(model["operations"][name]) for name in operations}
    pending = [ref["shape"] for operation in kept_operations.values() for ref in _operation_shape_refs(operation)]
    shapes: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in shapes:
            continue
        shape = _without_documentation(model["shapes"][name])
        shapes[name] = shape
        pending.extend(ref["shape"] for ref in _member_shape_refs(shape))
    return {
        **{k: v for k, v in model.items() if k not in ("operations", "shapes", "documentation")},
        "operations": kept_operations,
        "shapes": shapes,
    }


def trim_endpoints(endpoints: dict[str, Any], endpoint_prefix: str) -> dict[str, Any]:
    """
    Return botocore's ``endpoints`` table with each partition's services cut down to one.

    :param endpoints: the ``endpoints`` data.
    :param endpoint_prefix: the service's endpoint prefix (its model's ``metadata.endpointPrefix``).
    """
    partitions = [
        {**partition, "services": {k: v for k, v in partition.get("services", {}).items() if k == endpoint_prefix}}
        for partition in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


def use_trimmed_service_data(loader: Any) -> bool:
    """
    Put the trimmed files first on ``loader``'s search path, building them on first use.

    Blocking (it may wait for the child process), so call it from a worker thread.

    :param loader: a botocore ``Loader`` (a session's ``data_loader`` component).
    :return: whether the trimmed files are in use.
    """
    directory = _cache_directory(loader.search_paths)
    if directory is None:
        return False
    with _build_lock:
        if not (directory / "endpoints.json").is_file():
            try:
                _build_in_child_process(directory, loader.search_paths)
            except (OSError, subprocess.SubprocessError) as error:
                log.warning("Using botocore's full %s model; the trimmed one could not be built: %s", SERVICE, error)
                return False
    if str(directory) not in loader.search_paths:
        loader.search_paths.insert(0, str(directory))
    return True


def write_trimmed_service_data(directory: Path, search_paths: list[str]) -> None:
    """
    Write the trimmed service model and endpoints table into ``directory``, each file atomically.

    :param directory: where to write (created if missing).
    :param search_paths: the botocore data directories to read the full files from, in order.
    """
    import botocore.loaders

    loader = botocore.loaders.Loader(extra_search_paths=search_paths, include_default_search_paths=False)
    api_version = loader.determine_latest_version(SERVICE, "service-2")
    model = trim_service_model(loader.load_service_model(SERVICE, "service-2", api_version), ASYNC_OPERATIONS)
    _write_json(directory / SERVICE / api_version / "service-2.json", model)
    endpoints = trim_endpoints(loader.load_data("endpoints"), model["metadata"]["endpointPrefix"])
    _write_json(directory / "endpoints.json", endpoints)


def _build_in_child_process(directory: Path, search_paths: list[str]) -> None:
    command = [sys.executable, "-m", __name__, str(directory), *search_paths]
    subprocess.run(command, check=True, capture_output=True, timeout=_BUILD_TIMEOUT_SECONDS)


def _cache_directory(search_paths: list[str]) -> Path | None:
    """Return this botocore's private cache directory, or ``None`` when no safe one can be had."""
    import botocore

    existing_paths = [path for path in search_paths if os.path.isdir(path)]
    key = json.dumps([_FORMAT_VERSION, botocore.__version__, ASYNC_OPERATIONS, existing_paths])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"airflow-provider-optjob-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        status = root.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid() and not status.st_mode & 0o077
    return root / f"botocore-{digest}" if private else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(data, handle, separators=(",", ":"))
    os.replace(handle.name, path)


def _operation_shape_refs(operation: dict[str, Any]) -> list[dict[str, Any]]:
    refs = [operation[key] for key in ("input", "output") if key in operation]
    return refs + list(operation.get("errors", []))


def _member_shape_refs(shape: dict[str, Any]) -> list[dict[str, Any]]:
    refs = list(shape.get("members", {}).values())
    return refs + [shape[key] for key in ("member", "key", "value") if key in shape]


def _without_documentation(definition: dict[str, Any]) -> dict[str, Any]:
    trimmed = {key: value for key, value in definition.items() if key != "documentation"}
    if "members" in trimmed:
        trimmed["members"] = {name: _without_documentation(ref) for name, ref in trimmed["members"].items()}
    return trimmed


if __name__ == "__main__":
    write_trimmed_service_data(Path(sys.argv[1]), sys.argv[2:])
