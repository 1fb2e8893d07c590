"""The pinned Prometheus version and the scrape configuration we generate.

Scrape targets live in files, one per job, that Prometheus watches (``file_sd_configs``):
changing who is scraped is writing a file, never a restart or a reload. Everything here
is pure: targets in, text out. The text is JSON, which is valid YAML, so no YAML library
is needed to write it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bus.settings import Settings

__all__ = [
    "GO_MODULE",
    "JOBS",
    "LAG_JOB",
    "PROMETHEUS_RELEASE",
    "PROMETHEUS_VERSION",
    "ROLES",
    "RULES_DIR",
    "SCRAPE_INTERVAL",
    "check_targets",
    "default_cache_dir",
    "release_of",
    "render_config",
    "render_targets",
    "role_targets",
]

GO_MODULE = "github.com/prometheus/prometheus"

#: Go module tag of Prometheus 3.x (module ``v0.3MM.P`` is release ``3.MM.P``).
#: v0.315.0 = Prometheus 3.15.0, the newest tag on the module proxy when pinned; its
#: go.mod asks for Go >= 1.26.0 (built and tested with go1.26.8). To bump: pick a newer
#: ``go list -m -versions github.com/prometheus/prometheus`` tag whose go.mod ``go``
#: line your Go satisfies, change this constant, run the ops tests.
PROMETHEUS_VERSION = "v0.315.0"


def release_of(version: str) -> str:
    """The Prometheus release behind a module tag: ``v0.315.0`` -> ``3.15.0``."""
    _, minor, patch = version.removeprefix("v").split(".")
    return f"{int(minor) // 100}.{int(minor) % 100}.{int(patch)}"


#: The Prometheus release number behind :data:`PROMETHEUS_VERSION`.
PROMETHEUS_RELEASE = release_of(PROMETHEUS_VERSION)

#: One scrape job per role, in this order.
ROLES = ("connector", "streams", "sink", "gateway")

#: The job of the consumer-lag exporter (``python -m ops.prometheus.lag_exporter``).
LAG_JOB = "kafka"

#: Every job the generated configuration always has (dashboards rely on the names).
JOBS = (*ROLES, LAG_JOB)

#: Short on purpose: local demos want a graph that moves within seconds.
SCRAPE_INTERVAL = "2s"

#: How often Prometheus re-reads the target files besides watching them.
TARGETS_REFRESH = "5s"

#: The alerting rules shipped with the bus.
RULES_DIR = Path(__file__).resolve().parent / "rules"


def default_cache_dir(version: str = PROMETHEUS_VERSION, root: Path = Path(".stack")) -> Path:
    """``<root>/downloads/prometheus/<version>``: where built binaries are kept."""
    return root / "downloads" / "prometheus" / version


def check_targets(targets: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """``targets`` as plain lists, each address checked to be ``host:port``.

    Raises:
        ValueError: A job name is not a Prometheus job name or an address is not
            ``host:port`` (the message names it and shows an example).

    """
    checked: dict[str, list[str]] = {}
    for job, addresses in targets.items():
        if not job or not job.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"job name {job!r} must be letters, digits, '-' or '_', e.g. connector")
        if isinstance(addresses, str):
            raise ValueError(f"targets[{job!r}] must be a list of host:port, not a string")
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or "/" in address:
                raise ValueError(f"targets[{job!r}]: {address!r} is not host:port, e.g. 127.0.0.1:9400")
        checked[job] = list(dict.fromkeys(addresses))
    return checked


def render_targets(job: str, addresses: Sequence[str]) -> str:
    """The text of one job's target file (``file_sd`` JSON), labelled ``role=<job>``."""
    groups = [{"targets": list(addresses), "labels": {"role": job}}] if addresses else []
    return json.dumps(groups, indent=2) + "\n"


def render_config(
    targets_dir: Path,
    rule_files: Sequence[Path] = (),
    *,
    jobs: Sequence[str] = JOBS,
    scrape_interval: str = SCRAPE_INTERVAL,
) -> str:
    """The text of ``prometheus.yml``.

    Args:
        targets_dir: Directory of the target files; job ``J`` reads ``<targets_dir>/J.json``.
        rule_files: Rule files (or globs) to load, absolute paths.
        jobs: Scrape jobs. :data:`JOBS` always come first, in that order, even with no
            target, so dashboards see the same job names always.
        scrape_interval: Scrape and rule evaluation interval.

    """
    names = list(JOBS) + sorted(set(jobs) - set(JOBS))
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            "external_labels": {"bus": "cultuurbus"},
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_interval": scrape_interval,
                "metrics_path": "/metrics",
                "file_sd_configs": [{"files": [str(targets_dir / f"{job}.json")],
                                     "refresh_interval": TARGETS_REFRESH}],
            }
            for job in names
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def role_targets(settings: Settings, lag_exporter: str | None = None) -> dict[str, list[str]]:
    """Where the roles serve ``/metrics`` by their settings (``bus.settings.Settings``).

    Connectors: the HTTP port of the receivers (webhook, DIP: metrics on the same port)
    and ``connector.metrics_port`` of the pollers; streams: ``streams.web_port``; sink:
    ``sink.metrics_port``; gateway: its host and port; ``kafka``: the lag exporter.
    """
    connector, gateway = settings.connector, settings.gateway
    return {
        "connector": [f"{connector.http_host}:{connector.http_port}",
                      f"127.0.0.1:{connector.metrics_port}"],
        "streams": [f"127.0.0.1:{settings.streams.web_port}"],
        "sink": [f"127.0.0.1:{settings.sink.metrics_port}"],
        "gateway": [f"{gateway.host}:{gateway.port}"],
        LAG_JOB: [lag_exporter] if lag_exporter else [],
    }
