"""How a peer logs in to the bench's broker and registry: librdkafka security properties
(protocol, SASL mechanism, user, password) and the registry's basic auth, passed in
environment variables, never on the
command line (where ``ps`` would show the password). Imports nothing of the bus, so the
Quix peers' own virtualenv can use it.
"""

from __future__ import annotations

import json
import os

__all__ = ["LOGIN_ENV", "REGISTRY_LOGIN_ENV", "peer_login", "peer_registry_login"]

LOGIN_ENV = "BENCH_KAFKA_LOGIN"
#: ``user:password`` of the registry's basic auth (unset: no auth).
REGISTRY_LOGIN_ENV = "BENCH_REGISTRY_LOGIN"


def peer_login() -> dict[str, str]:
    """``security.protocol`` and ``sasl.*`` properties for this peer's clients; empty when
    the broker takes PLAINTEXT."""
    return {str(k): str(v) for k, v in json.loads(os.environ.get(LOGIN_ENV) or "{}").items()}


def peer_registry_login() -> str | None:
    """The registry's ``user:password`` for this peer, or None."""
    return os.environ.get(REGISTRY_LOGIN_ENV) or None
