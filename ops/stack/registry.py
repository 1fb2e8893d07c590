"""Apicurio schema registry, from its Maven Central distribution.

Storage is an H2 database file under ``<stack dir>/registry/``, so subjects and
the compatibility level survive a restart. Clients use the Confluent-compatible
API at :attr:`StackSettings.registry_url`, with HTTP basic auth: the registry starts
with ``<stack dir>/registry/auth.properties`` (users, roles and permissions, written
from :mod:`ops.stack.registry_auth` at every start), so only the roles that need it
reach it, read-only for most; ``/health/*`` stays open for the readiness probe.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import httpx
from typing_extensions import override

from ops.stack.errors import StackError
from ops.stack.registry_auth import registry_user_info, write_auth_config
from ops.stack.service import Echo, Probe, Service
from ops.stack.settings import LOOPBACK
from ops.stack.tools import MARKER, OPS_DIR, fetch_dependencies, pom_property, require_tool

__all__ = ["GLOBAL_COMPATIBILITY", "RegistryService"]

POM = OPS_DIR / "registry" / "pom.xml"
GLOBAL_COMPATIBILITY = "BACKWARD"
_CCOMPAT_JSON = "application/vnd.schemaregistry.v1+json"


class RegistryService(Service):
    """Apicurio Registry with H2 file storage on loopback."""

    name = "registry"
    start_timeout_s = 120.0
    stop_grace_s = 30.0

    @property
    def version(self) -> str:
        return pom_property(POM, "apicurio.version")

    @property
    def dist_dir(self) -> Path:
        return self.downloads / f"apicurio-registry-{self.version}"

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.settings.registry_port}"

    @property
    @override
    def address(self) -> str:
        return self.settings.registry_url

    @override
    def ports(self) -> dict[int, str]:
        return {self.settings.registry_port: "CULTUURBUS_STACK_REGISTRY_PORT"}

    @property
    def auth_file(self) -> Path:
        """The Quarkus configuration with the registry's users and permissions (0600)."""
        return self.work_dir / "auth.properties"

    def _admin_auth(self) -> tuple[str, str]:
        user, _, password = registry_user_info(self.root, "admin").partition(":")
        return user, password

    @override
    def installed_version(self) -> str | None:
        return self.version if (self.dist_dir / MARKER).exists() else None

    @override
    def setup(self, echo: Echo) -> None:
        require_tool("java", "running the schema registry")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._check_storage()
        write_auth_config(self.root, self.auth_file)
        self.fetch(echo)

    def _check_storage(self) -> None:
        """Refuse a database written by another major version (3.x cannot read 2.x's)."""
        db = self.work_dir / "registry.mv.db"
        marker = self.work_dir / "registry.major"
        major = self.version.split(".", 1)[0]
        if not db.exists():
            marker.write_text(major + "\n")
            return
        held = marker.read_text().strip() if marker.exists() else "2"  # 2.x wrote no marker
        if held != major:
            raise StackError(
                f"{self.name}: {db} was written by Apicurio Registry {held}.x, which {self.version} "
                "cannot read, and the records on this stack's topics carry that registry's schema "
                f"ids. Start from a fresh stack: `cultuurbus stack down`, then remove everything "
                f"in {self.root} but downloads/ (the cached jars and builds), or point "
                "CULTUURBUS_STACK_DIR at a new directory"
            )

    @override
    def fetch(self, echo: Echo) -> None:
        if (self.dist_dir / MARKER).exists():
            return
        archive_dir = self.downloads / f"apicurio-registry-{self.version}.archive"
        # The 3.0.9 distribution's parent pom is missing on Maven Central, so the
        # archive is fetched on its own, without reading its pom.
        fetch_dependencies(POM, archive_dir, what=self.name, echo=echo,
                           artifact=f"io.apicurio:apicurio-registry-app:{self.version}:tar.gz:all")
        archives = sorted(archive_dir.glob("*.tar.gz"))
        if not archives:
            raise StackError(f"{self.name}: Maven fetched no .tar.gz into {archive_dir}; check {POM}")
        echo(f"{self.name}: unpacking {archives[0].name}")
        scratch = self.dist_dir.with_name(self.dist_dir.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        with tarfile.open(archives[0]) as tar:
            tar.extractall(scratch, filter="data")
        (scratch / MARKER).write_text(self.version + "\n")
        shutil.rmtree(self.dist_dir, ignore_errors=True)
        scratch.rename(self.dist_dir)
        # Maven's local repository keeps the archive; no need for a third copy.
        shutil.rmtree(archive_dir, ignore_errors=True)

    def _runner(self) -> Path:
        quarkus = self.dist_dir / "quarkus-app" / "quarkus-run.jar"  # 3.1.5 and later
        if quarkus.exists():
            return quarkus
        runners = sorted(self.dist_dir.glob("*-runner.jar"))  # 2.x and 3.0.x
        if not runners:
            raise StackError(
                f"{self.name}: no runner jar in {self.dist_dir}; remove that directory "
                "so the next `up` unpacks the distribution again"
            )
        return runners[0]

    def _storage_args(self) -> list[str]:
        url = f"jdbc:h2:file:{self.work_dir / 'registry'}"
        if self.version.split(".", 1)[0] in ("0", "1", "2"):
            return [f"-Dquarkus.datasource.jdbc.url={url}"]
        return [
            "-Dapicurio.storage.kind=sql",
            "-Dapicurio.storage.sql.kind=h2",
            f"-Dapicurio.datasource.url={url}",
        ]

    @override
    def command(self) -> list[str]:
        java = require_tool("java", "running the schema registry")
        return [
            java,
            "-Xms64m",
            "-Xmx512m",
            "-Djava.awt.headless=true",
            f"-Dquarkus.http.host={LOOPBACK}",
            f"-Dquarkus.http.port={self.settings.registry_port}",
            *self._storage_args(),
            f"-Dquarkus.config.locations=file:{self.auth_file}",
            "-jar",
            str(self._runner()),
        ]

    def _info_apis(self) -> tuple[str, ...]:
        """System-info API versions to ask, the likely one first (2.x lacks v3)."""
        return ("v2", "v3") if self.version.split(".", 1)[0] in ("0", "1", "2") else ("v3", "v2")

    @override
    def probe(self) -> Probe:
        try:
            with httpx.Client(base_url=self.base_url, timeout=3.0, auth=self._admin_auth()) as http:
                subjects = http.get("/apis/ccompat/v7/subjects")
                if subjects.status_code != 200:
                    return Probe(False, None, f"GET /apis/ccompat/v7/subjects as admin -> "
                                              f"{subjects.status_code}")
                anonymous = httpx.get(f"{self.base_url}/apis/ccompat/v7/subjects", timeout=3.0)
                if anonymous.status_code != 401:
                    return Probe(False, None, "answers callers without credentials "
                                              f"({anonymous.status_code}): a registry started "
                                              "without auth.properties; stop it and `stack up`")
                version = None
                for api in self._info_apis():
                    info = http.get(f"/apis/registry/{api}/system/info")
                    if info.status_code == 200:
                        version = info.json().get("version")
                        break
        except (httpx.HTTPError, ValueError) as exc:
            return Probe(False, None, f"not answering: {exc}")
        return Probe(True, version, "ccompat API answers (basic auth)")

    @override
    def configure(self, echo: Echo) -> None:
        """Set and verify the global compatibility level (BACKWARD)."""
        try:
            with httpx.Client(base_url=self.address, timeout=10.0, auth=self._admin_auth()) as http:
                put = http.put(
                    "/config",
                    json={"compatibility": GLOBAL_COMPATIBILITY},
                    headers={"Content-Type": _CCOMPAT_JSON},
                )
                put.raise_for_status()
                got = http.get("/config")
                got.raise_for_status()
                body = got.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise StackError(
                f"{self.name}: could not set the global compatibility to "
                f"{GLOBAL_COMPATIBILITY}: {exc}; read {self.log_file}"
            ) from exc
        level = body.get("compatibilityLevel", body.get("compatibility"))
        if level != GLOBAL_COMPATIBILITY:
            raise StackError(
                f"{self.name}: global compatibility reads back {level!r}, expected "
                f"{GLOBAL_COMPATIBILITY}; read {self.log_file}"
            )
        echo(f"{self.name}: global compatibility {GLOBAL_COMPATIBILITY}")
