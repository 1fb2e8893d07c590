"""The Grafana dashboards as code: models, datasources, PromQL validity, metric names.

PromQL validity is checked offline with ``promtool check rules`` on a generated rule
file holding every panel query as a recording rule (promtool parses each expr with
Prometheus's own parser). Prometheus is built once per machine (see ops.prometheus.build).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ops.grafana.panels import (
    DASHBOARDS_DIR,
    code_metric_names,
    expand,
    iter_panels,
    load_dashboards,
    metric_names,
    panel_queries,
    variable_queries,
)
from ops.prometheus.build import PrometheusBinaries, build
from ops.prometheus.config import default_cache_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
GRAFANA = REPO_ROOT / "ops" / "grafana"
EXPECTED = {"overview", "connectors", "streams", "sinks", "sector"}


@pytest.fixture(scope="module")
def binaries() -> PrometheusBinaries:
    return build(default_cache_dir(root=REPO_ROOT / ".stack"))


def test_the_five_dashboards_exist_and_parse_as_grafana_models() -> None:
    dashboards = load_dashboards()
    assert set(dashboards) == EXPECTED
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, model in dashboards.items():
        assert model["title"].startswith("Cultuurbus"), name
        assert model["schemaVersion"] >= 39, name  # Grafana 11
        assert "cultuurbus" in model["tags"], name
        panels = list(iter_panels(model))
        assert panels, name
        ids = [p["id"] for p in panels]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        for panel in panels:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}#{panel['id']} overflows the grid"


def test_every_panel_reads_the_provisioned_prometheus_and_has_a_query() -> None:
    queries = panel_queries()
    assert len(queries) >= 40
    for query in queries:
        assert query.datasource_uid == "prometheus", str(query)
        assert query.expr.strip(), f"{query} has no expr"
    for name, model in load_dashboards().items():
        for panel in iter_panels(model):
            assert panel.get("datasource", {}).get("uid") == "prometheus", f"{name}#{panel['id']}"
            assert panel.get("targets"), f"{name}#{panel['id']} has no target"


def test_every_metric_a_dashboard_reads_is_declared_in_the_code() -> None:
    declared = code_metric_names()
    used = {name for q in panel_queries() for name in metric_names(q.expr)}
    used |= {name for _, _, selector in variable_queries() for name in metric_names(selector)}
    assert used, "no cultuurbus_* metric in the dashboards?"
    assert sorted(used - declared) == []


def test_the_overview_shows_latency_percentiles_from_histograms() -> None:
    exprs = [q.expr for q in panel_queries() if q.dashboard == "overview"]
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(f"histogram_quantile({quantile}," in e and "_bucket" in e for e in exprs)


def test_expand_turns_grafana_macros_and_variables_into_promql() -> None:
    expr = 'sum(rate(x{c=~"$connector", a=~"${agent}"}[$__rate_interval])) + label_replace(y, "l", "$1", "m", "(.*)")'
    assert expand(expr) == ('sum(rate(x{c=~".*", a=~".*"}[1m])) + label_replace(y, "l", "$1", "m", "(.*)")')
    assert expand('x{c=~"$connector"}', {"connector": "acme"}) == 'x{c=~"acme"}'


def test_every_panel_query_is_valid_promql(binaries: PrometheusBinaries, tmp_path: Path) -> None:
    queries = panel_queries()
    exprs = [expand(q.expr) for q in queries]
    exprs += [expand(selector) for _, _, selector in variable_queries()]
    # JSON strings are valid YAML scalars, so no YAML library is needed.
    import json

    lines = ["groups:", "  - name: panels", "    rules:"]
    for i, expr in enumerate(exprs):
        lines += [f"      - record: panel:query:{i}", f"        expr: {json.dumps(expr)}"]
    rules = tmp_path / "panels.yml"
    rules.write_text("\n".join(lines) + "\n")
    done = subprocess.run([str(binaries.promtool), "check", "rules", "--lint=none", str(rules)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def test_promtool_rejects_a_broken_query_so_the_check_above_means_something(
        binaries: PrometheusBinaries, tmp_path: Path) -> None:
    rules = tmp_path / "broken.yml"
    rules.write_text('groups:\n  - name: b\n    rules:\n      - record: b:q\n        expr: "sum(rate(x[1m])"\n')
    done = subprocess.run([str(binaries.promtool), "check", "rules", str(rules)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0


def test_provisioning_names_the_datasource_uid_and_the_dashboards_folder() -> None:
    datasource = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert re.search(r"^\s+uid: prometheus$", datasource, re.M)
    assert re.search(r"^\s+type: prometheus$", datasource, re.M)
    provider = (GRAFANA / "provisioning" / "dashboards" / "cultuurbus.yml").read_text()
    assert re.search(r"^\s+type: file$", provider, re.M)
    assert re.search(r"^\s+path: \S+", provider, re.M)
    assert DASHBOARDS_DIR == GRAFANA / "dashboards"
