"""Build ``prometheus`` and ``promtool`` from the Go module proxy, once per version.

Why not ``go install github.com/prometheus/prometheus/cmd/prometheus@<version>``:
Go refuses ``go install pkg@version`` when the module's go.mod has ``replace`` or
``exclude`` directives, and every Prometheus 3.x tag has both. So we do the two steps
that command would do: ``go mod download`` the module (checksum-verified, read-only
in the module cache), then ``go install ./cmd/prometheus ./cmd/promtool`` inside it
with ``GOBIN`` pointing at the cache directory, ``GOFLAGS=-trimpath``,
``CGO_ENABLED=0``, ``GOWORK=off`` (the zip carries a go.work naming folders it lacks),
``GOTOOLCHAIN=local`` and the release stamped into ``--version``.

The binaries are built into ``<cache>.partial`` and renamed into place when both
exist, so an interrupted build is redone and a complete one is never repeated.

The build has no web UI assets (the official release embeds them with the
``builtinassets`` tag after a Node build): ``/`` and ``/query`` answer 500 "Error
opening React index.html", while the HTTP API, ``/metrics``, ``/-/ready`` and
``/-/reload`` work, which is all the bus uses. Grafana is the UI.

Run ``python -m ops.prometheus.build [--cache-dir DIR]`` to build ahead of time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ops.prometheus.config import GO_MODULE, PROMETHEUS_VERSION, default_cache_dir, release_of
from ops.prometheus.errors import GoMissingError, PrometheusBuildError

__all__ = ["PrometheusBinaries", "build", "find_binaries"]

BINARIES = ("prometheus", "promtool")
_VERSION_PKG = "github.com/prometheus/common/version"


@dataclass(frozen=True)
class PrometheusBinaries:
    """Paths of a built Prometheus version.

    Attributes:
        version: The Go module tag, e.g. ``v0.315.0``.
        prometheus: The server binary.
        promtool: The rules/config checker.

    """

    version: str
    prometheus: Path
    promtool: Path


def find_binaries(cache_dir: Path, version: str = PROMETHEUS_VERSION) -> PrometheusBinaries | None:
    """The binaries (absolute paths) in ``cache_dir`` when both are there, else ``None``."""
    paths = [cache_dir.resolve() / name for name in BINARIES]
    if all(path.is_file() and os.access(path, os.X_OK) for path in paths):
        return PrometheusBinaries(version, paths[0], paths[1])
    return None


def _go(argv: list[str], *, cwd: Path | None, env: dict[str, str], timeout_s: float,
        what: str) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PrometheusBuildError(
            f"{what} did not finish within {timeout_s:.0f}s; check access to the Go module "
            f"proxy (go env GOPROXY) and run again: {' '.join(argv)}") from exc
    if done.returncode != 0:
        # go mod download -json reports its error in the JSON on stdout.
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PrometheusBuildError(
            f"{what} failed (exit {done.returncode}); check access to the Go module proxy "
            f"(go env GOPROXY) and that `go version` is at least the go line of the module's "
            f"go.mod. Output:\n{tail}")
    return done.stdout


def build(
    cache_dir: Path | None = None,
    *,
    version: str = PROMETHEUS_VERSION,
    echo: Callable[[str], None] = print,
    timeout_s: float = 3600.0,
) -> PrometheusBinaries:
    """Build ``prometheus`` and ``promtool`` for ``version`` into ``cache_dir``, once.

    Args:
        cache_dir: Where the binaries go; default ``.stack/downloads/prometheus/<version>``.
        version: Go module tag of Prometheus.
        echo: Where progress messages go.
        timeout_s: Upper bound for each ``go`` step.

    Returns:
        The binaries (built now or found from an earlier build).

    Raises:
        GoMissingError: ``go`` is not on PATH.
        PrometheusBuildError: Download or compilation failed; the message holds go's output.

    """
    target = (cache_dir or default_cache_dir(version)).resolve()
    found = find_binaries(target, version)
    if found is not None:
        return found
    go = shutil.which("go")
    if go is None:
        raise GoMissingError(version)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-trimpath",
           # Never fetch another Go toolchain behind the user's back: fail with a clear error.
           "GOTOOLCHAIN": "local",
           # The module zip carries the repository's go.work, naming folders it lacks.
           "GOWORK": "off"}
    started = time.monotonic()
    echo(f"prometheus: downloading {GO_MODULE}@{version} with go (first run only)…")
    info = json.loads(_go([go, "mod", "download", "-json", f"{GO_MODULE}@{version}"], cwd=None,
                          env=env, timeout_s=timeout_s, what=f"go mod download {version}"))
    if info.get("Error"):
        raise PrometheusBuildError(f"go mod download {GO_MODULE}@{version}: {info['Error']}")
    module_dir = Path(info["Dir"])
    scratch = target.with_name(target.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    # -s -w: no symbol table nor DWARF, a third smaller; panics keep their stack traces.
    ldflags = " ".join(["-s", "-w",
                        f"-X {_VERSION_PKG}.Version={release_of(version)}",
                        f"-X {_VERSION_PKG}.Branch={version}",
                        f"-X {_VERSION_PKG}.BuildUser=cultuurbus"])
    echo(f"prometheus: compiling prometheus and promtool {version} "
         "(several minutes on a small machine; first run only)…")
    _go([go, "install", "-ldflags", ldflags, *(f"./cmd/{name}" for name in BINARIES)],
        cwd=module_dir, env={**env, "GOBIN": str(scratch)}, timeout_s=timeout_s,
        what=f"go install prometheus {version}")
    if find_binaries(scratch, version) is None:
        raise PrometheusBuildError(f"go install finished but {scratch} lacks {BINARIES}; "
                                   f"delete {scratch} and run again")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch.rename(target)
    echo(f"prometheus: built into {target} in {time.monotonic() - started:.0f}s")
    built = find_binaries(target, version)
    assert built is not None  # noqa: S101 - just checked in scratch
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="default: .stack/downloads/prometheus/<version>")
    parser.add_argument("--version", default=PROMETHEUS_VERSION)
    args = parser.parse_args(argv)
    binaries = build(args.cache_dir, version=args.version)
    print(binaries.prometheus)
    print(binaries.promtool)
    return 0


if __name__ == "__main__":
    sys.exit(main())
