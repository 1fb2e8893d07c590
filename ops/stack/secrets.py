"""Generated secrets of one local stack: the broker's admin and controller passwords, each
role principal's password, the registry users' passwords, the pseudonym key.

Kept in ``<dir>/secrets/credentials.json`` (directory 0700, file 0600), outside the
repository and never on a topic: a secret is made (random, URL-safe) the first time it is
asked for and the same one is returned from then on, so a restarted stack and every role
started from it agree. A production deployment does not use this file: there each role
gets its own credentials from the operator (``cultuurbus tenant add`` prints a tenant's).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from bus.tenants import new_secret
from ops.stack.errors import StackError

__all__ = ["StackSecrets"]

_lock = threading.Lock()


class StackSecrets:
    """The secrets of the stack in ``stack_dir``.

    >>> s = StackSecrets(Path(".stack"))          # doctest: +SKIP
    >>> s.get("kafka/admin") == s.get("kafka/admin")  # doctest: +SKIP
    True
    """

    def __init__(self, stack_dir: Path) -> None:
        self.dir = stack_dir / "secrets"
        self.path = self.dir / "credentials.json"

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except ValueError as exc:
            raise StackError(f"{self.path} is not JSON ({exc}); remove it and the stack's "
                             "kafka/ directory to start afresh with new credentials") from None
        if not isinstance(data, dict):
            raise StackError(f"{self.path} is not a JSON object; remove it to start afresh")
        return {str(k): str(v) for k, v in data.items()}

    def _write(self, data: dict[str, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def get(self, name: str, nbytes: int = 24) -> str:
        """The secret called ``name`` (e.g. ``kafka/admin``), made on first use."""
        with _lock:
            data = self._read()
            if name not in data:
                data[name] = new_secret(nbytes)
                self._write(data)
            return data[name]

    def peek(self, name: str) -> str | None:
        """The secret called ``name`` if it was made, else None (never makes one)."""
        return self._read().get(name)

    def set(self, name: str, value: str) -> None:
        """Replace the secret ``name`` (a rotation)."""
        with _lock:
            data = self._read()
            data[name] = value
            self._write(data)
