"""``cultuurbus tenant add|list|rotate|revoke`` and ``cultuurbus access apply``.

``tenant add`` prints a ready configuration file for the tenant's connector or app (its
Kafka credentials, registry user, ingest topics, API token): hand it over once, over a
channel you trust; the bus keeps only the token's hash and the broker's SCRAM verifier.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from bus.settings import Settings
from bus.tenants import INGEST_FAMILIES, KINDS, ingest_topic

__all__ = ["access", "tenant"]


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj  # type: ignore[no-any-return]


def _admin(settings: Settings):  # type: ignore[no-untyped-def]
    from bus.kafka import make_admin

    return make_admin(settings.kafka)


def _q(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)


def tenant_config(settings: Settings, issued) -> str:  # type: ignore[no-untyped-def]
    """The TOML configuration file of a tenant just issued credentials."""
    t = issued.tenant
    k = settings.kafka
    # A tenant always authenticates, even when the operator's own profile is PLAINTEXT.
    protocol = k.security_protocol if k.security_protocol.startswith("SASL") else "SASL_PLAINTEXT"
    lines = [
        f"# cultuurbus tenant {t.name} ({t.kind}), issued {t.updated_at}.",
        "# Secret: anyone with this file acts as this tenant. Load it with",
        "# `cultuurbus --config THIS_FILE ...` or CULTUURBUS_CONFIG_FILE=THIS_FILE.",
    ]
    if t.kind == "vendor":
        topics = ", ".join(ingest_topic(t.name, f, settings.topic_prefix) for f in INGEST_FAMILIES)
        lines.append(f"# Your connector writes only to your ingest topics: {topics}.")
    if t.venues or t.productions:
        lines.append(f"# Registered for venues {list(t.venues)} and productions {list(t.productions)}.")
    lines += [f"topic_prefix = {_q(settings.topic_prefix)}", "", "[kafka]",
              f"bootstrap_servers = {_q(k.bootstrap_servers)}",
              f"client_id = {_q(t.principal)}",
              f"security_protocol = {_q(protocol)}",
              f"sasl_mechanism = {_q('SCRAM-SHA-512')}",
              f"sasl_username = {_q(t.principal)}",
              f"sasl_password = {_q(issued.password)}",
              "", "[registry]", f"url = {_q(settings.registry.url)}"]
    if settings.registry.tenant_user_info is not None:
        lines.append(f"basic_auth_user_info = {_q(settings.registry.tenant_user_info.get_secret_value())}")
    if t.kind == "vendor":
        lines += ["", "[connector]", f"tenant = {_q(t.name)}"]
    if issued.webhook is not None:
        account, token = issued.webhook
        lines += ["", "[webhook.url_tokens]", f"{_q(account)} = {_q(token)}"]
    if t.kind in ("venue", "producer", "analyst"):
        lines += ["", "# Your API token: `cultuurbus report ...` shows what it entitles you to.",
                  "[report]", f"token = {_q(issued.token)}", ""]
    else:
        lines += ["", f"# API token (identifies {t.name} to the bus's HTTP APIs):",
                  f"# {issued.token}", ""]
    return "\n".join(lines)


def _emit(settings: Settings, issued, out: Path | None) -> None:  # type: ignore[no-untyped-def]
    text = tenant_config(settings, issued)
    for change in issued.changes:
        click.echo(f"acl {change}", err=True)
    if out is None:
        click.echo(text)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    click.echo(f"tenant {issued.tenant.name}: configuration written to {out} (mode 0600)", err=True)


_OUT = click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="Write the tenant's configuration file here (mode 0600) instead of stdout.")


@click.group()
def tenant() -> None:
    """Tenants: vendor accounts, venues, producers, apps and analysts sharing the bus."""


@tenant.command("add")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name")
@click.option("--venue", "venues", multiple=True, help="A venue id it is registered for (repeat).")
@click.option("--production", "productions", multiple=True,
              help="A production id it is registered for (repeat).")
@click.option("--webhook", default=None, metavar="VENDOR/ACCOUNT",
              help="Vendor tenants: also issue a webhook URL token for this account.")
@_OUT
@click.pass_context
def tenant_add(ctx: click.Context, kind: str, name: str, venues: tuple[str, ...],
               productions: tuple[str, ...], webhook: str | None, out: Path | None) -> None:
    """Create tenant NAME of KIND: credentials, ACLs, ingest topics, API token, config file."""
    from ops.tenants.service import add_tenant

    settings = _settings(ctx)
    issued = add_tenant(settings, _admin(settings), kind, name,  # type: ignore[arg-type]
                        venues=venues, productions=productions, webhook=webhook)
    _emit(settings, issued, out)


@tenant.command("rotate")
@click.argument("name")
@_OUT
@click.pass_context
def tenant_rotate(ctx: click.Context, name: str, out: Path | None) -> None:
    """Issue NAME a new password and API token; the old ones stop working."""
    from ops.tenants.service import rotate_tenant

    settings = _settings(ctx)
    _emit(settings, rotate_tenant(settings, _admin(settings), name), out)


@tenant.command("revoke")
@click.argument("name")
@click.pass_context
def tenant_revoke(ctx: click.Context, name: str) -> None:
    """End NAME's access now: ACLs, credential and token; other tenants are untouched."""
    from ops.tenants.service import revoke_tenant

    settings = _settings(ctx)
    revoked, changes = revoke_tenant(settings, _admin(settings), name)
    for change in changes:
        click.echo(f"acl {change}")
    click.echo(f"tenant {revoked.name}: revoked")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tenant.")
@click.pass_context
def tenant_list(ctx: click.Context, as_json: bool) -> None:
    """The tenant directory: name, kind, registered venues and productions, state."""
    from bus.directory import read_directory

    settings = _settings(ctx)
    for t in read_directory(settings.kafka, settings.topic_prefix).all():
        if as_json:
            click.echo(json.dumps({"name": t.name, "kind": t.kind, "venues": list(t.venues),
                                   "productions": list(t.productions), "revoked": t.revoked,
                                   "principal": t.principal, "updated_at": t.updated_at}))
        else:
            state = "revoked" if t.revoked else "active"
            click.echo(f"{t.name:28} {t.kind:9} {state:8} venues={','.join(t.venues) or '-'} "
                       f"productions={','.join(t.productions) or '-'}")


@click.group()
def access() -> None:
    """Kafka ACLs as the data-product catalog grants them."""


@access.command("apply")
@click.pass_context
def access_apply_cmd(ctx: click.Context) -> None:
    """Reconcile the broker's ACLs with the catalog's grants, removing those of tenant
    principals with no record; prints what changed, then what needs a person; idempotent."""
    from ops.tenants.service import access_apply

    settings = _settings(ctx)
    applied = access_apply(settings, _admin(settings))
    for change in applied.changes:
        click.echo(str(change))
    for notice in applied.notices:
        click.echo(f"note: {notice}")
    click.echo(f"{len(applied.changes)} change(s)")
