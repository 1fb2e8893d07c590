"""Every PromQL expression of the Grafana dashboards, for checks against Prometheus.

``panel_queries()`` walks ``dashboards/*.json`` (panels nested in rows included) and
returns one :class:`PanelQuery` per target; ``variable_queries()`` does the same for
template variables. Grafana's macros and variables are not PromQL: ``expand()``
replaces them with concrete values so Prometheus (or promtool) can evaluate the query.

``python -m ops.grafana.panels`` prints them all, one per line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARDS_DIR", "PACKAGES", "PanelQuery", "code_metric_names", "expand",
           "load_dashboards", "metric_names", "panel_queries", "variable_queries"]

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
REPO_ROOT = DASHBOARDS_DIR.parents[2]
#: The packages whose sources declare metrics.
PACKAGES = ("bus", "connectors", "streams", "sinks", "ops")
#: What a metric family of each type is exposed as (prometheus_client, text format).
_SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum", "_info")

#: Grafana's built-in interval macros and what they become outside Grafana.
MACROS = {
    "$__rate_interval": "1m",
    "$__interval": "10s",
    "$__range": "30m",
}
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)")
_METRIC = re.compile(r"\b(cultuurbus_[a-z0-9_]+)\b")
_DECLARED = re.compile(r"""["'](cultuurbus_[a-z0-9_]+)["']""")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", re.S)


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel.

    Attributes:
        dashboard: File stem, e.g. ``overview``.
        panel_id: The panel's ``id``.
        title: The panel's title.
        ref_id: The target's ``refId``.
        expr: The PromQL as written in the dashboard (Grafana macros included).
        datasource_uid: The uid of the panel's (or the target's) datasource.

    """

    dashboard: str
    panel_id: int
    title: str
    ref_id: str
    expr: str
    datasource_uid: str | None

    def __str__(self) -> str:
        return f"{self.dashboard}#{self.panel_id} {self.title!r} {self.ref_id}"


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> dict[str, dict[str, Any]]:
    """Every ``*.json`` dashboard model in ``directory`` by file stem."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(directory.glob("*.json"))}


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data; rows are layout and are walked into, not returned."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from iter_panels(panel)
        else:
            yield panel


def _uid(datasource: Any) -> str | None:
    if isinstance(datasource, Mapping):
        uid = datasource.get("uid")
        return str(uid) if uid is not None else None
    return None


def panel_queries(directory: Path = DASHBOARDS_DIR) -> list[PanelQuery]:
    """One entry per target of every panel of every dashboard (targets without an
    ``expr`` give an empty string, so a check can name them)."""
    found: list[PanelQuery] = []
    for name, model in load_dashboards(directory).items():
        for panel in iter_panels(model):
            targets = panel.get("targets") or [{}]
            for target in targets:
                found.append(PanelQuery(
                    dashboard=name, panel_id=int(panel.get("id", 0)), title=str(panel.get("title", "")),
                    ref_id=str(target.get("refId", "")), expr=str(target.get("expr", "")),
                    datasource_uid=_uid(target.get("datasource")) or _uid(panel.get("datasource"))))
    return found


def variable_queries(directory: Path = DASHBOARDS_DIR) -> list[tuple[str, str, str]]:
    """``(dashboard, variable, series selector)`` of every ``label_values`` variable."""
    found: list[tuple[str, str, str]] = []
    for name, model in load_dashboards(directory).items():
        for variable in model.get("templating", {}).get("list", []):
            query = variable.get("query")
            text = query.get("query", "") if isinstance(query, Mapping) else str(query or "")
            match = _LABEL_VALUES.match(text)
            if match:
                found.append((name, str(variable.get("name")), match.group(1)))
    return found


def expand(expr: str, variables: Mapping[str, str] | None = None) -> str:
    """``expr`` as plain PromQL: macros become :data:`MACROS`, dashboard variables their
    value in ``variables`` or ``.*`` (every variable here is a multi-value regex)."""
    for macro in sorted(MACROS, key=len, reverse=True):
        expr = expr.replace(macro, MACROS[macro])
    values = variables or {}
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), ".*"), expr)


def metric_names(expr: str) -> set[str]:
    """The ``cultuurbus_*`` metric names a query reads (as exposed: ``_total``, ``_bucket``…)."""
    return set(_METRIC.findall(expr))


def code_metric_names(root: Path = REPO_ROOT, packages: tuple[str, ...] = PACKAGES) -> set[str]:
    """Every exposed name a ``cultuurbus_*`` metric declared in the package sources can have.

    Two readings: string literals ``"cultuurbus_..."`` in the sources (with every suffix
    a family of unknown type could get), and the families the ``*Metrics`` containers
    register when built on a fresh registry (exact names; catches names built at run
    time such as the sink's ``metric_name(f"sink_{n}")``).
    """
    import importlib

    from prometheus_client import CollectorRegistry

    names: set[str] = set()
    containers: set[tuple[str, str]] = set()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            names.update(base + suffix for base in _DECLARED.findall(text) for suffix in _SUFFIXES)
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            containers.update((module, cls) for cls in re.findall(
                r"^class (\w+Metrics)\b.*:\s*$", text, re.M))
    for module, cls in sorted(containers):
        registry = CollectorRegistry()
        try:
            getattr(importlib.import_module(module), cls)(registry)
        except Exception:  # noqa: S112 - a container that needs more than a registry
            continue
        for family in registry.collect():
            suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum",
                                                                         "_created"),
                        "summary": ("", "_count", "_sum", "_created")}.get(family.type, ("",))
            names.update(family.name + suffix for suffix in ("", *suffixes))
    return {name for name in names if name.startswith("cultuurbus_")}


def main() -> int:
    for query in panel_queries():
        print(f"{query}\t{' '.join(query.expr.split())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
