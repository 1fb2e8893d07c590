"""Building Prometheus: once per version, and a clear error without Go."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.prometheus.build import build, find_binaries
from ops.prometheus.config import PROMETHEUS_RELEASE, PROMETHEUS_VERSION, default_cache_dir, release_of
from ops.prometheus.errors import GoMissingError

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_module_tags_map_to_prometheus_3_releases() -> None:
    assert release_of("v0.315.0") == "3.15.0"
    assert release_of("v0.300.1") == "3.0.1"
    assert PROMETHEUS_RELEASE == release_of(PROMETHEUS_VERSION)


def test_without_go_the_error_names_go_and_how_to_install_it(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GoMissingError, match=r"^go not found on PATH.*Install Go"):
        build(tmp_path / "cache", echo=lambda _: None)


def test_binaries_already_built_are_not_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("prometheus", "promtool"):
        (cache / name).write_text("#!/bin/sh\n")
        (cache / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # go would be needed to build
    messages: list[str] = []
    found = build(cache, echo=messages.append)
    assert found.prometheus == (cache / "prometheus").resolve()
    assert messages == []


@pytest.mark.timeout(3600)  # a cold build takes minutes (about 7 on 2 shared cores)
def test_the_pinned_version_builds_and_reports_its_release() -> None:
    import subprocess

    binaries = build(default_cache_dir(root=REPO_ROOT / ".stack"))
    assert find_binaries(binaries.prometheus.parent) == binaries
    for tool in (binaries.prometheus, binaries.promtool):
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
        assert f"version {PROMETHEUS_RELEASE} " in out
