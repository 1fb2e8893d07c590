"""Apache Kafka 4.x, single node in KRaft mode, from Maven Central jars.

Layout under the stack directory::

    kafka/server.properties   rendered from ops/kafka/server.properties.in (0600: passwords)
    kafka/log4j2.properties   copied from ops/kafka/log4j2.properties
    kafka/cluster.id          chosen once, reused if the data is wiped
    kafka/security.profile    the security profile the data was formatted under
    kafka/data/               log.dirs (formatted on first start)

In the ``sasl`` profile (the default) the admin's SCRAM credential is written into the
metadata when storage is formatted (KIP-900, ``StorageTool format --add-scram``), so the
broker can authenticate its own inter-broker connections from its first start; the role
principals are added afterwards through the Admin API (``ops.access.principals``).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from string import Template
from typing import Any

from typing_extensions import override

from ops.stack.errors import StackError
from ops.stack.process import port_is_free
from ops.stack.service import Echo, Probe, Service
from ops.stack.settings import ADMIN, CONTROLLER, LOOPBACK, SCRAM_MECHANISM, StackSettings
from ops.stack.tools import OPS_DIR, fetch_dependencies, require_tool

__all__ = ["KafkaService", "render_server_properties"]

POM = OPS_DIR / "kafka" / "pom.xml"
SERVER_TEMPLATE = OPS_DIR / "kafka" / "server.properties.in"
LOG4J2_CONFIG = OPS_DIR / "kafka" / "log4j2.properties"
_BROKER_JAR = re.compile(r"^kafka_2\.13-(?P<version>[\w.\-]+)\.jar$")
_quiet = logging.getLogger("ops.stack.kafka.probe")
_quiet.addHandler(logging.NullHandler())  # librdkafka chatter while the broker boots
_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def security_lines(settings: StackSettings) -> str:
    """The SASL part of ``server.properties`` (empty in the plaintext profile).

    Client listener SASL_PLAINTEXT: SCRAM-SHA-512 only; the broker's own inter-broker
    client logs in as admin. Controller listener: SASL/PLAIN (KRaft does not support SCRAM
    there), one user ``controller`` whose password the JAAS ``user_controller`` entry holds.
    Passwords are URL-safe secrets, so they need no quoting beyond the JAAS double quotes.
    """
    if not settings.sasl:
        return ""
    admin = settings.kafka_password(ADMIN)
    controller = settings.kafka_password(CONTROLLER)
    return "\n".join([
        "sasl.enabled.mechanisms=" + SCRAM_MECHANISM,
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms=" + SCRAM_MECHANISM,
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        "sasl.mechanism.inter.broker.protocol=" + SCRAM_MECHANISM,
        "sasl.mechanism.controller.protocol=PLAIN",
        f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={_SCRAM_LOGIN} "
        f'required username="{ADMIN}" password="{admin}";',
        f"listener.name.controller.plain.sasl.jaas.config={_PLAIN_LOGIN} required "
        f'username="{CONTROLLER}" password="{controller}" user_{CONTROLLER}="{controller}";',
        "",
    ])


def render_server_properties(settings: StackSettings, data_dir: Path) -> str:
    """``server.properties`` of the stack for its security profile, with the bench's extra
    PLAINTEXT listener (its clients are User:ANONYMOUS, a super user) when
    ``kafka_plaintext_port`` is set.

    Raises:
        StackError: ``kafka_plaintext_port`` is set in the plaintext profile, whose client
            listener already is the PLAINTEXT one.

    """
    sasl = settings.sasl
    bench_port = settings.kafka_plaintext_port
    if bench_port is not None and not sasl:
        raise StackError("kafka_plaintext_port (CULTUURBUS_STACK_KAFKA_PLAINTEXT_PORT) adds a PLAINTEXT "
                         "listener beside the SASL one, for the bench; the plaintext profile's client "
                         "listener is already PLAINTEXT: unset it")
    super_users = f"User:{ADMIN};User:{CONTROLLER}" if sasl else "User:ANONYMOUS"
    return Template(SERVER_TEMPLATE.read_text()).substitute(
        profile=settings.kafka_security,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        data_dir=data_dir,
        partitions=settings.kafka_partitions_default,
        client_listener="SASL_PLAINTEXT" if sasl else "PLAINTEXT",
        controller_protocol="SASL_PLAINTEXT" if sasl else "PLAINTEXT",
        sasl=security_lines(settings),
        allow_everyone="false" if sasl else "true",
        super_users=super_users + (";User:ANONYMOUS" if bench_port is not None else ""),
        bench_listener=f",PLAINTEXT://{LOOPBACK}:{bench_port}" if bench_port is not None else "",
        bench_protocol=",PLAINTEXT:PLAINTEXT" if bench_port is not None else "",
    )


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 random bytes, URL-safe base64, no padding."""
    while True:
        cid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka avoids ids that look like CLI options
            return cid


class KafkaService(Service):
    """Single-node Kafka (broker + controller) on loopback."""

    name = "kafka"
    start_timeout_s = 90.0
    stop_grace_s = 45.0

    @property
    def libs(self) -> Path:
        return self.downloads / "kafka-libs"

    @property
    def data_dir(self) -> Path:
        return self.work_dir / "data"

    @property
    def server_properties(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def profile_marker(self) -> Path:
        return self.work_dir / "security.profile"

    @property
    @override
    def address(self) -> str:
        return self.settings.kafka_bootstrap

    @override
    def ports(self) -> dict[int, str]:
        return {
            self.settings.kafka_port: "CULTUURBUS_STACK_KAFKA_PORT",
            self.settings.kafka_controller_port: "CULTUURBUS_STACK_KAFKA_CONTROLLER_PORT",
        }

    @override
    def installed_version(self) -> str | None:
        if not self.libs.is_dir():
            return None
        for jar in self.libs.iterdir():
            match = _BROKER_JAR.match(jar.name)
            if match:
                return match.group("version")
        return None

    @override
    def fetch(self, echo: Echo) -> None:
        fetch_dependencies(POM, self.libs, what=self.name, echo=echo)

    @override
    def setup(self, echo: Echo) -> None:
        java = require_tool("java", "running the Kafka broker")
        self.fetch(echo)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        formatted = (self.data_dir / "meta.properties").exists()
        if formatted:
            self._check_profile()
        rendered = render_server_properties(self.settings, self.data_dir)
        # The SASL profile's copy holds the admin's and the controller's passwords.
        fd = os.open(self.server_properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(rendered)
        os.chmod(self.server_properties, 0o600)  # an older copy may have been 0644
        shutil.copyfile(LOG4J2_CONFIG, self.work_dir / "log4j2.properties")
        if not formatted:
            self._format(java, echo)
            self.profile_marker.write_text(self.settings.kafka_security + "\n")

    def _check_profile(self) -> None:
        """Refuse data formatted under another security profile (no silent re-format: that
        would lose every topic). Data from before profiles existed was plaintext."""
        was = (self.profile_marker.read_text().strip() if self.profile_marker.exists()
               else "plaintext")
        if was != self.settings.kafka_security:
            raise StackError(
                f"{self.name}: the data in {self.data_dir} was formatted for the {was!r} security "
                f"profile, but this stack runs {self.settings.kafka_security!r} "
                "(CULTUURBUS_STACK_KAFKA_SECURITY). The credentials live in the formatted "
                f"metadata, so remove {self.work_dir} (its topics are lost) and run "
                f"`cultuurbus stack up` again, or set CULTUURBUS_STACK_KAFKA_SECURITY={was}")

    def _cluster_id(self) -> str:
        path = self.work_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        cid = new_cluster_id()
        path.write_text(cid + "\n")
        return cid

    def _format(self, java: str, echo: Echo) -> None:
        cid = self._cluster_id()
        echo(f"{self.name}: formatting storage in {self.data_dir} (cluster id {cid})")
        argv = [
            java,
            *self._jvm_common(),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cid,
            "--config",
            str(self.server_properties),
            "--ignore-formatted",
        ]
        if self.settings.sasl:  # KIP-900: the admin exists before the broker first starts
            password = self.settings.kafka_password(ADMIN)
            argv += ["--add-scram", f"{SCRAM_MECHANISM}=[name={ADMIN},password={password}]"]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            done = subprocess.run(  # noqa: S603 - fixed argv
                argv, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False
            )
        if done.returncode != 0:
            raise StackError(
                f"{self.name}: formatting {self.data_dir} failed (exit {done.returncode}); "
                f"read {self.log_file}, then remove {self.work_dir} to start afresh"
            )

    def _jvm_common(self) -> list[str]:
        return [
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
        ]

    @override
    def command(self) -> list[str]:
        java = require_tool("java", "running the Kafka broker")
        heap = self.settings.kafka_heap
        return [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            *self._jvm_common(),
            "kafka.Kafka",
            str(self.server_properties),
        ]

    @override
    def configure(self, echo: Echo) -> None:
        """SASL profile: give every role principal its SCRAM credential and its ACLs for
        topic prefix "" (ops/access/principals.py), as admin, on every start."""
        if not self.settings.sasl:
            return
        from bus.errors import BusError
        from bus.kafka import make_admin
        from bus.settings import load_settings
        from ops.access.principals import ROLE_PRINCIPALS, apply_role_access

        try:
            admin = make_admin(self.settings.kafka_client(ADMIN))
            changes = apply_role_access(admin, "", load_settings(), stack=self.settings)
        except BusError as exc:
            raise StackError(f"{self.name}: could not set up the role principals: {exc}") from exc
        echo(f"{self.name}: {len(ROLE_PRINCIPALS)} role principals ready"
             + (f", {len(changes)} ACL change(s)" if changes else ", ACLs unchanged"))

    @override
    def probe(self) -> Probe:
        if port_is_free(LOOPBACK, self.settings.kafka_port):
            return Probe(False, None, f"nothing listens on {self.address}")
        try:
            from confluent_kafka.admin import AdminClient

            from bus.kafka import librdkafka_config

            config: dict[str, Any] = {  # as admin: the probe must pass the authorizer too
                **librdkafka_config(self.settings.kafka_client(ADMIN)),
                "socket.timeout.ms": 3000,
                "logger": _quiet,
            }
            admin = AdminClient(config)
            metadata = admin.list_topics(timeout=5)
        except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
            return Probe(False, None, f"metadata request failed: {exc}")
        if not metadata.brokers:
            return Probe(False, None, "metadata lists no broker yet")
        return Probe(True, self.installed_version(), f"{len(metadata.brokers)} broker(s)")
