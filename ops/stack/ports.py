"""Free loopback ports, and settings for a stack of one's own on them: the bench and the
test session each run a private stack next to any other (``isolated_settings``), and
pick ports for the roles they start (``free_ports``)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from ops.stack.errors import StackError
from ops.stack.settings import LOOPBACK, StackSettings

__all__ = ["free_ports", "isolated_settings"]


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that are free now.

    Drawn from 20000-29999, below Linux's ephemeral range, so outgoing client
    connections do not take them between this check and the servers binding them.
    """
    candidates = random.sample(range(20000, 30000), 200)
    ports = [port for port in candidates if _bindable(port)][:count]
    if len(ports) < count:
        raise StackError("could not find enough free loopback ports; free some and retry")
    return ports


def isolated_settings(stack_dir: Path, downloads_dir: Path | None = None) -> StackSettings:
    """Settings for a stack in ``stack_dir`` on fresh free ports with a small broker heap."""
    kafka, controller, registry, ch_http, ch_tcp, prometheus, lag = free_ports(7)
    return StackSettings(
        dir=stack_dir,
        kafka_port=kafka,
        kafka_controller_port=controller,
        kafka_heap="1g",
        registry_port=registry,
        clickhouse_http_port=ch_http,
        clickhouse_tcp_port=ch_tcp,
        prometheus_port=prometheus,
        lag_exporter_port=lag,
        downloads_dir=downloads_dir,
    )
