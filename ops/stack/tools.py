"""External tools of the stack: finding ``java``/``mvn`` and fetching from Maven.

The poms under ``ops/kafka`` and ``ops/registry`` are the single source of truth
for versions; a fetched directory carries a marker holding the pom's hash, so
editing a pom (a version bump) fetches again and an unchanged pom never does.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from ops.stack.errors import MissingToolError, StackError

__all__ = ["OPS_DIR", "fetch_dependencies", "pom_property", "require_tool"]

OPS_DIR = Path(__file__).resolve().parent.parent
MARKER = ".complete"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def require_tool(tool: str, needed_for: str) -> str:
    """The absolute path of ``tool`` on PATH.

    Raises:
        MissingToolError: It is not installed; the message says how to install it.

    """
    found = shutil.which(tool)
    if found is None:
        raise MissingToolError(tool, needed_for)
    return found


def pom_property(pom: Path, name: str) -> str:
    """The value of ``<properties><name>`` in ``pom``."""
    tree = ET.parse(pom)  # noqa: S314 - our own pom from this checkout
    node = tree.getroot().find(f"m:properties/m:{name}", _POM_NS)
    if node is None or not (node.text or "").strip():
        raise StackError(f"{pom} has no <properties><{name}>; restore it from git")
    return (node.text or "").strip()


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def is_fetched(pom: Path, target: Path) -> bool:
    """Whether ``target`` holds a complete fetch of exactly this ``pom``."""
    marker = target / MARKER
    return marker.is_file() and marker.read_text().strip() == _pom_digest(pom)


_DEPENDENCY_PLUGIN_GET = "org.apache.maven.plugins:maven-dependency-plugin:2.8"


def fetch_dependencies(
    pom: Path,
    target: Path,
    *,
    what: str,
    echo: Callable[[str], None],
    timeout_s: float = 1800.0,
    artifact: str | None = None,
) -> Path:
    """Copy the dependencies of ``pom`` into ``target`` with Maven, once.

    Runs ``mvn -q -f <pom> dependency:copy-dependencies`` into a scratch directory
    and renames it into place when complete, so an interrupted fetch is retried.

    Args:
        pom: The pom whose dependencies to copy.
        target: Directory that receives the jars/archives and the marker.
        what: Service name used in progress messages.
        echo: Where progress messages go.
        timeout_s: Upper bound for the Maven run.
        artifact: Fetch only this one artifact (``group:artifact:version:type:classifier``)
            without reading its pom (``dependency:get -Dtransitive=false``), for
            distributions whose parent pom is not on Maven Central (Apicurio 3.0.9).
            ``pom`` still pins the version and keys the marker.

    Returns:
        ``target``.

    Raises:
        MissingToolError: ``mvn`` is not installed.
        StackError: Maven failed; the message holds the tail of its output.

    """
    if is_fetched(pom, target):
        return target
    mvn = require_tool("mvn", f"fetching the {what} jars from Maven Central (first run only)")
    echo(f"{what}: resolving {pom.relative_to(OPS_DIR.parent)} from Maven (first run only)…")
    scratch = target.with_name(target.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    if artifact is None:
        argv = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                f"-DoutputDirectory={scratch}"]
    else:
        # 2.8 is the last dependency plugin whose `get` resolves an artifact without its
        # pom descriptor when transitive=false; 3.x reads the pom (and so its parent).
        argv = [mvn, "-q", "-B", f"{_DEPENDENCY_PLUGIN_GET}:get", f"-Dartifact={artifact}",
                "-Dtransitive=false", f"-Ddest={scratch}/"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            f"{what}: Maven did not finish within {timeout_s:.0f}s; check network access "
            f"to Maven Central and run again: {' '.join(argv)}"
        ) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise StackError(
            f"{what}: Maven could not resolve {pom} (exit {done.returncode}); "
            f"check network access to Maven Central. Output:\n{tail}"
        )
    (scratch / MARKER).write_text(_pom_digest(pom) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    echo(f"{what}: fetched into {target}")
    return target
