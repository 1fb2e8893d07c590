"""The role principals of the test stack, for tests that start a role as a subprocess.

The ``stack`` fixture registers its stack here (:func:`use_stack`); :func:`role_env`
then gives the ``CULTUURBUS_KAFKA__*``/``CULTUURBUS_REGISTRY__*`` variables that make a
subprocess connect as that role's own principal (ops/access/principals.py), the way
``cultuurbus stack env --role`` does for a person.
"""

from __future__ import annotations

from ops.stack.settings import StackSettings

__all__ = ["role_env", "use_stack"]

_stacks: list[StackSettings] = []


def use_stack(stack: StackSettings) -> None:
    """Make ``stack`` the one whose principals :func:`role_env` gives."""
    _stacks[:] = [stack]


def role_env(principal: str) -> dict[str, str]:
    """The connection variables of ``principal`` on the test stack."""
    if not _stacks:
        raise RuntimeError("no test stack: request the `stack` fixture (or `topics`) first")
    return _stacks[0].client_env(principal)
