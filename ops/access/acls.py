"""Reconcile the broker's ACLs with a wanted set, and manage SCRAM credentials.

The way ``apply_catalog`` makes topics match the catalog, :func:`reconcile` makes the
ACLs of the principals it manages match a wanted set of bindings: it describes what the
broker has for each managed principal, creates what is missing, deletes what is extra and
returns the changes, each with a one-line description. Running it twice changes nothing
the second time. Bindings of principals it does not manage are never touched, and a
caller can narrow what counts as "extra" (``owns``) when several wanted sets share
principals, e.g. the roles' grants under two topic prefixes on one broker.

SCRAM credentials (SCRAM-SHA-512, the only mechanism the stack's client listener takes)
are upserted, listed and deleted with the Admin API (KIP-554); a deleted credential refuses
new connections at once, and ACLs removed are checked on the next request of an open one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from bus.errors import BusError

__all__ = ["AccessError", "AclChange", "all_bindings", "describe", "delete_scram", "reconcile",
           "scram_users", "upsert_scram"]

#: SCRAM iterations of new credentials (Kafka's minimum is 4096).
SCRAM_ITERATIONS = 8192
_Key = tuple[int, str, int, str, str, int, int]


class AccessError(BusError):
    """The broker refused or failed an ACL or credential change; the message says which."""


@dataclass(frozen=True)
class AclChange:
    """One binding added to or removed from the broker."""

    action: Literal["added", "removed"]
    binding: AclBinding

    def __str__(self) -> str:
        return f"{self.action} {describe(self.binding)}"


def _name(enum_value: object) -> str:
    return str(getattr(enum_value, "name", enum_value))


def describe(b: AclBinding) -> str:
    """``User:x ALLOW READ on TOPIC participation.facts`` (``prefix ...*`` when prefixed)."""
    pattern = b.resource_pattern_type
    resource = "CLUSTER" if b.restype == ResourceType.BROKER else _name(b.restype)
    name = f"{b.name}*" if pattern == ResourcePatternType.PREFIXED else b.name
    host = "" if b.host == "*" else f" from {b.host}"
    return (f"{b.principal} {_name(b.permission_type)} {_name(b.operation)} on {resource} "
            f"{name}{host}")


def _v(field: object) -> int:
    return int(getattr(field, "value", field))  # type: ignore[call-overload]


def _key(b: AclBinding) -> _Key:
    return (_v(b.restype), b.name, _v(b.resource_pattern_type), b.principal, b.host,
            _v(b.operation), _v(b.permission_type))


def _result(future: object, what: str, timeout: float) -> object:
    try:
        return future.result(timeout=timeout)  # type: ignore[attr-defined]
    except KafkaException as exc:
        raise AccessError(f"{what} failed: {exc.args[0] if exc.args else exc}; the admin client "
                          "needs ALTER and DESCRIBE on the cluster (a super user, or the ops "
                          "principal)") from exc


def _existing(admin: AdminClient, principal: str | None, timeout: float) -> list[AclBinding]:
    anything: Any = None  # the stubs say str; None matches any name, host and principal
    flt = AclBindingFilter(ResourceType.ANY, anything, ResourcePatternType.ANY, principal or anything,
                           anything, AclOperation.ANY, AclPermissionType.ANY)
    found = _result(admin.describe_acls(flt, request_timeout=timeout),
                    f"describing the ACLs of {principal or 'every principal'}", timeout)
    return list(found)  # type: ignore[call-overload]


def all_bindings(admin: AdminClient, timeout: float = 30.0) -> list[AclBinding]:
    """Every binding on the broker, of every principal: how a caller finds principals it
    does not know of (e.g. a tenant whose record is gone) to add to ``managed_principals``."""
    return _existing(admin, None, timeout)


def _await_effect(admin: AdminClient, managed: list[str], added: set[_Key], removed: set[_Key],
                  timeout: float) -> None:
    """Wait (bounded) until the broker's authorizer shows the changes: the controller
    commits them first and the broker applies them moments later (KRaft), and a caller
    that starts a client right after ``reconcile`` must not be refused."""
    deadline = time.monotonic() + timeout
    while True:
        have = {_key(b) for p in managed for b in _existing(admin, p, timeout)}
        if added <= have and not (removed & have):
            return
        if time.monotonic() > deadline:
            raise AccessError(f"the broker did not show {len(added - have)} added and "
                              f"{len(removed & have)} removed ACL(s) within {timeout:g} s; "
                              "run the same command again")
        time.sleep(0.1)


def reconcile(admin: AdminClient, wanted: Iterable[AclBinding], managed_principals: Iterable[str],
              *, owns: Callable[[AclBinding], bool] | None = None,
              timeout: float = 30.0) -> list[AclChange]:
    """Make the ACLs of ``managed_principals`` (``User:name``) exactly ``wanted``.

    Args:
        admin: a client whose principal may describe and alter ACLs.
        wanted: every binding these principals should have.
        managed_principals: whose bindings are compared; others are never touched.
        owns: when given, an extra binding is removed only if ``owns(binding)``; the
            rest belong to another wanted set sharing these principals.
        timeout: seconds per broker request.

    Returns:
        What was added and removed, added first, each sorted by description.

    Raises:
        AccessError: a wanted binding names a principal that is not managed, or the
            broker refused a request.

    """
    managed = list(dict.fromkeys(managed_principals))
    want = {_key(b): b for b in wanted}
    strangers = sorted({b.principal for b in want.values()} - set(managed))
    if strangers:
        raise AccessError(f"wanted bindings name principals that are not managed: "
                          f"{', '.join(strangers)}; add them to managed_principals")
    have = {_key(b): b for p in managed for b in _existing(admin, p, timeout)}
    missing = [b for k, b in want.items() if k not in have]
    extra = [b for k, b in have.items() if k not in want and (owns is None or owns(b))]
    if missing:
        futures = admin.create_acls(missing, request_timeout=timeout)
        for binding, fut in futures.items():
            _result(fut, f"adding {describe(binding)}", timeout)
    if extra:
        filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal,
                                    b.host, b.operation, b.permission_type) for b in extra]
        for flt, fut in admin.delete_acls(filters, request_timeout=timeout).items():
            _result(fut, f"removing {describe(flt)}", timeout)
    if missing or extra:
        _await_effect(admin, managed, set(map(_key, missing)), set(map(_key, extra)), timeout)
    return ([AclChange("added", b) for b in sorted(missing, key=describe)]
            + [AclChange("removed", b) for b in sorted(extra, key=describe)])


def upsert_scram(admin: AdminClient, user: str, password: str, timeout: float = 30.0) -> None:
    """Give Kafka user ``user`` (no ``User:``) this SCRAM-SHA-512 password (new or replaced)."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    futures = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(user, info, password.encode())], request_timeout=timeout)
    for fut in futures.values():
        _result(fut, f"setting the SCRAM credential of {user}", timeout)


def scram_users(admin: AdminClient, timeout: float = 30.0) -> list[str]:
    """The Kafka users (no ``User:``) that have a SCRAM credential, sorted."""
    found = _result(admin.describe_user_scram_credentials(request_timeout=timeout),
                    "describing the SCRAM credentials", timeout)
    return sorted(found)  # type: ignore[call-overload]


def delete_scram(admin: AdminClient, user: str, timeout: float = 30.0) -> bool:
    """Delete ``user``'s SCRAM-SHA-512 credential: new connections as ``user`` are refused.

    Returns:
        False when the user had no such credential (nothing to do), else True.

    """
    futures = admin.alter_user_scram_credentials(
        [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)], request_timeout=timeout)
    for fut in futures.values():
        try:
            fut.result(timeout=timeout)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.RESOURCE_NOT_FOUND:
                return False
            raise AccessError(f"deleting the SCRAM credential of {user} failed: {err or exc}; "
                              "the admin client needs ALTER on the cluster") from exc
    return True
