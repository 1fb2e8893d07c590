"""Apache Kafka 4.x, single node in KRaft mode, from Maven Central jars.

Layout under the stack directory::

    kafka/server.properties   rendered from ops/kafka/server.properties.in
    kafka/log4j2.properties   copied from ops/kafka/log4j2.properties
    kafka/cluster.id          chosen once, reused if the data is wiped
    kafka/data/               log.dirs (formatted on first start)
"""

from __future__ import annotations

import base64
import logging
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
from ops.stack.settings import LOOPBACK
from ops.stack.tools import OPS_DIR, fetch_dependencies, require_tool

__all__ = ["KafkaService"]

POM = OPS_DIR / "kafka" / "pom.xml"
SERVER_TEMPLATE = OPS_DIR / "kafka" / "server.properties.in"
LOG4J2_CONFIG = OPS_DIR / "kafka" / "log4j2.properties"
_BROKER_JAR = re.compile(r"^kafka_2\.13-(?P<version>[\w.\-]+)\.jar$")
_quiet = logging.getLogger("ops.stack.kafka.probe")
_quiet.addHandler(logging.NullHandler())  # librdkafka chatter while the broker boots


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
        rendered = Template(SERVER_TEMPLATE.read_text()).substitute(
            port=self.settings.kafka_port,
            controller_port=self.settings.kafka_controller_port,
            data_dir=self.data_dir,
            partitions=self.settings.kafka_partitions_default,
        )
        self.server_properties.write_text(rendered)
        shutil.copyfile(LOG4J2_CONFIG, self.work_dir / "log4j2.properties")
        if not (self.data_dir / "meta.properties").exists():
            self._format(java, echo)

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
    def probe(self) -> Probe:
        if port_is_free(LOOPBACK, self.settings.kafka_port):
            return Probe(False, None, f"nothing listens on {self.address}")
        try:
            from confluent_kafka.admin import AdminClient

            config: dict[str, Any] = {
                "bootstrap.servers": self.address,
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
