"""The pinned Prometheus version and the scrape configuration we generate.

``render_config`` is pure: targets in, ``prometheus.yml`` text out. It is JSON,
which is valid YAML, so no YAML library is needed to write it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "GO_MODULE",
    "PROMETHEUS_RELEASE",
    "PROMETHEUS_VERSION",
    "ROLES",
    "RULES_DIR",
    "SCRAPE_INTERVAL",
    "default_cache_dir",
    "release_of",
    "render_config",
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

#: Short on purpose: local demos want a graph that moves within seconds.
SCRAPE_INTERVAL = "2s"

#: The alerting rules shipped with the bus.
RULES_DIR = Path(__file__).resolve().parent / "rules"


def default_cache_dir(version: str = PROMETHEUS_VERSION, root: Path = Path(".stack")) -> Path:
    """``<root>/downloads/prometheus/<version>``: where built binaries are kept."""
    return root / "downloads" / "prometheus" / version


def render_config(
    targets: Mapping[str, Sequence[str]],
    rule_files: Sequence[Path] = (),
    *,
    scrape_interval: str = SCRAPE_INTERVAL,
) -> str:
    """The text of ``prometheus.yml``.

    Args:
        targets: ``host:port`` endpoints per role (``connector``, ``streams``, ``sink``,
            ``gateway``, or any other job name). Every role in :data:`ROLES` gets a job,
            empty when it has no target, so dashboards see the same job names always.
        rule_files: Rule files (or globs) to load, absolute paths.
        scrape_interval: Scrape and rule evaluation interval.

    """
    jobs = list(ROLES) + sorted(set(targets) - set(ROLES))
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
                "static_configs": [{"targets": list(targets.get(job, ())),
                                    "labels": {"role": job}}],
            }
            for job in jobs
        ],
    }
    return json.dumps(config, indent=2) + "\n"
