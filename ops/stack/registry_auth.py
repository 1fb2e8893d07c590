"""Who may use the local stack's schema registry, and how they authenticate.

Contract used by the rest of the stack (``StackSettings.client_env``): every principal
has a registry user of the same name whose password is the stack secret
``registry/<principal>``; :func:`registry_user_info` gives the ``user:password`` a client
sends as HTTP basic auth (``CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO``).

The registry (Apicurio 3.0.9, a Quarkus application) checks them itself, with no identity
server: :func:`auth_properties` renders the Quarkus configuration it starts with, HTTP
basic auth against Quarkus's embedded users (``quarkus.security.users.embedded.*``) and
path/method permissions (``quarkus.http.auth.permission.*``):

- the writers (:data:`WRITERS`: the tests' ``admin`` observer and ``cultuurbus-ops``,
  which runs ``cultuurbus schemas register`` and ``tenant add``) may do anything;
- the readers (every other role, and the vendors' connectors) may read (``GET``), look a
  schema up (``POST /subjects/{subject}``) and test compatibility, never register a
  schema, change a compatibility level or delete;
- anonymous callers get 401 everywhere but ``/health/*`` (the stack's readiness probe).

Embedded users are read once when the registry starts, and tenants are added while it
runs, so every tenant connector shares one read-only registry user, :data:`TENANTS_USER`
(``registry_user_info(dir, "tenant-acme")`` gives its credentials). A shared user costs
little: the registry holds the public Avro contract (``schemas/avro``), no data, and a
tenant's write access is what Kafka's ACLs refuse; revoking a tenant does not end its
read access to the schemas (rotate ``registry/tenants`` and restart the registry to).
"""

from __future__ import annotations

import os
from pathlib import Path

from ops.stack.errors import StackError
from ops.stack.secrets import StackSecrets

__all__ = [
    "PRINCIPALS",
    "READERS",
    "TENANTS_USER",
    "WRITERS",
    "auth_properties",
    "registry_user",
    "registry_user_info",
    "write_auth_config",
]

WRITERS: tuple[str, ...] = ("admin", "cultuurbus-ops")
READERS: tuple[str, ...] = ("cultuurbus-streams", "cultuurbus-sink", "cultuurbus-gateway",
                            "cultuurbus-connector", "cultuurbus-lag-exporter")
TENANTS_USER = "tenants"  # no dash: no tenant's principal (``tenant-<name>``) can be it
PRINCIPALS: tuple[str, ...] = (*WRITERS, *READERS, TENANTS_USER)

_WRITE_ROLE, _READ_ROLE = "registry-writer", "registry-reader"
_CCOMPAT = "/apis/ccompat/v7"
_SUBJECTS = f"{_CCOMPAT}/subjects"
# Every path pattern a permission below names. Quarkus picks the longest matching
# pattern, then the permission naming the request's method over one naming none; a path
# matched with no permission for its method is refused. So each pattern gets a read
# permission (GET...) and a write one (any other method), and the subject pattern a
# lookup one (POST /subjects/{s} finds a schema's id; POST /subjects/{s}/versions, the
# longer pattern, registers and stays with the writers).
_PATTERNS = ("/*", f"{_SUBJECTS}/*", f"{_SUBJECTS}/*/versions", f"{_SUBJECTS}/*/versions/*",
             f"{_CCOMPAT}/compatibility/*")


def registry_user(principal: str) -> str:
    """The registry user ``principal`` authenticates as (tenants share :data:`TENANTS_USER`).

    Raises:
        StackError: ``principal`` has no registry user on this stack.

    """
    if principal.startswith("tenant-"):
        return TENANTS_USER
    if principal not in PRINCIPALS:
        raise StackError(f"{principal!r} has no user on the stack's schema registry; the users "
                         f"are {', '.join(PRINCIPALS)} (tenants share {TENANTS_USER!r}): add it "
                         "to ops/stack/registry_auth.py and restart the registry")
    return principal


def registry_user_info(stack_dir: Path, principal: str) -> str:
    """``user:password`` of ``principal``'s registry user in the stack at ``stack_dir``."""
    user = registry_user(principal)
    return f"{user}:{StackSecrets(stack_dir).get('registry/' + user)}"


def auth_properties(stack_dir: Path) -> str:
    """The Quarkus configuration (properties) that secures the registry of ``stack_dir``."""
    secrets = StackSecrets(stack_dir)
    lines = [
        "# Written by ops/stack/registry_auth.py at every start; passwords are stack secrets.",
        "quarkus.http.auth.basic=true",
        "quarkus.security.users.embedded.enabled=true",
        "quarkus.security.users.embedded.plain-text=true",
    ]
    for user in PRINCIPALS:
        role = _WRITE_ROLE if user in WRITERS else _READ_ROLE
        lines += [f"quarkus.security.users.embedded.users.{user}={secrets.get('registry/' + user)}",
                  f"quarkus.security.users.embedded.roles.{user}={role}"]
    perm = "quarkus.http.auth.permission"
    lines += [
        f"quarkus.http.auth.policy.cb-readers.roles-allowed={_READ_ROLE},{_WRITE_ROLE}",
        f"quarkus.http.auth.policy.cb-writers.roles-allowed={_WRITE_ROLE}",
        f"{perm}.cb-health.paths=/health,/health/*",
        f"{perm}.cb-health.policy=permit",
        f"{perm}.cb-read.paths={','.join(_PATTERNS)}",
        f"{perm}.cb-read.methods=GET,HEAD,OPTIONS",
        f"{perm}.cb-read.policy=cb-readers",
        f"{perm}.cb-lookup.paths={_SUBJECTS}/*,{_CCOMPAT}/compatibility/*",
        f"{perm}.cb-lookup.methods=POST",
        f"{perm}.cb-lookup.policy=cb-readers",
        f"{perm}.cb-write.paths={','.join(_PATTERNS)}",
        f"{perm}.cb-write.policy=cb-writers",
    ]
    return "\n".join(lines) + "\n"


def write_auth_config(stack_dir: Path, path: Path) -> Path:
    """Write :func:`auth_properties` to ``path`` (mode 0600: it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(auth_properties(stack_dir))
    os.replace(tmp, path)
    return path
