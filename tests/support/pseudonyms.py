"""An explicit pseudonym key for tests.

Connectors have no default buyer pseudonym key (``docs/pseudonyms.md``): the harness gives
the connectors it builds this one when a test's settings carry none. It is a test key,
in the test tree only, never a deployment's.
"""

from __future__ import annotations

from pydantic import SecretStr

from bus.settings import Settings

__all__ = ["TEST_BUYER_SECRET", "with_test_key"]

TEST_BUYER_SECRET = "test-only-pseudonym-key-0123456789"


def with_test_key(settings: Settings) -> Settings:
    """``settings`` with :data:`TEST_BUYER_SECRET` as the pseudonym key when they have none."""
    connector = settings.connector
    if connector.buyer_secret is not None or connector.buyer_secret_file is not None:
        return settings
    keyed = connector.model_copy(update={"buyer_secret": SecretStr(TEST_BUYER_SECRET)})
    return settings.model_copy(update={"connector": keyed})
