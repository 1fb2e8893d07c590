"""Shared fixtures: a real local stack for integration tests.

Only tests that request ``stack`` start it. It lives in a temporary directory on
ports picked free for this session, and shares one download cache
(``<repo>/.stack/downloads``, git-ignored) so the broker jars and the registry
distribution are fetched from Maven once per machine, not once per run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.stack.ports import isolated_settings
from ops.stack.settings import StackSettings
from tests.support.roles import use_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
DOWNLOAD_CACHE = REPO_ROOT / ".stack" / "downloads"

MARKERS = {
    "integration": "needs real services (Kafka, schema registry, ClickHouse) from the `stack` fixture",
    "e2e": "runs the whole pipeline end to end",
    "slow": "takes more than a few seconds",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """A running test stack (Kafka, registry, ClickHouse); stopped at session end.

    With ``CULTUURBUS_TEST_REUSE_STACK=1`` the stack already running at the
    ``CULTUURBUS_STACK_*`` settings (default ports, ``.stack/``) is used and left running:
    handy while developing; tests isolate themselves by topic prefix.
    """
    import os

    from ops.stack.manager import StackManager

    if os.environ.get("CULTUURBUS_TEST_REUSE_STACK") == "1":
        shared = StackSettings()
        down = [s.name for s in StackManager(shared).status() if not s.healthy]
        if down:
            pytest.fail(f"CULTUURBUS_TEST_REUSE_STACK=1 but {down} not healthy: `cultuurbus stack up`")
        use_stack(shared)
        yield shared
        return
    settings = isolated_settings(tmp_path_factory.mktemp("stack"), DOWNLOAD_CACHE)
    manager = StackManager(settings)
    try:
        manager.up()
        use_stack(settings)
        yield settings
    finally:
        manager.down()
