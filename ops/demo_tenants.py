"""The demo's tenants: two ticketing vendors and one app sharing the bus, each as itself.

- ``demo-eventix`` and ``demo-stager`` are vendor tenants. Each runs its own webhook
  receiver (a ``cultuurbus connector webhook`` with its tenant configuration: its own
  Kafka user, ``connector.tenant``), so its facts land on its own ingest topics, which
  only it may write; the simulator sends each vendor's deliveries to that vendor's
  receiver. Each is registered for what it sells in the season: the DIP productions and
  the sector's ids of the venues (``dip:theater:<id>`` in the Netherlands, the UiTdatabank
  place in Flanders), so the streams worker counts its facts, and would refuse a fact for
  anybody else's performance.
- Eventbrite deliveries (and every other source: Ticketmatic, DIP, box-office files,
  calendars) stay with the bus's own trusted connectors, on the shared topics.
- ``demo-board`` is an app tenant: the demo's live table reads availability and
  last-minute offers with its credentials, the only topics an app may read.

A tenant that exists from an earlier run on a kept stack gets new credentials instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bus.kafka import make_admin
from bus.settings import Settings
from bus.tenants import TenantError, principal_of
from connectors.simulator.model import EVENTIX, STAGER, Season
from ops.stack.pipeline import Pipeline, Role
from ops.stack.ports import free_ports
from ops.stack.pseudonym import pseudonym_env
from ops.stack.secrets import StackSecrets
from ops.tenants.service import Issued, add_tenant, rotate_tenant

__all__ = ["APP", "DemoTenant", "demo_tenants", "start_tenants"]

APP = "demo-board"


@dataclass(frozen=True)
class DemoTenant:
    """One tenant of the demo (``vendors``: the webhook vendors whose deliveries it receives)."""

    name: str
    kind: str
    vendors: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()
    productions: tuple[str, ...] = ()


def _registered_for(season: Season, vendor: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    venues = {v.key: v for v in season.venues}
    ids: set[str] = set()
    productions: set[str] = set()
    for p in season.performances:
        if p.ticketing != vendor:
            continue
        v = venues[p.venue]
        if v.country == "NL" and v.dip_theater_id:
            ids.add(f"dip:theater:{v.dip_theater_id}")
            productions.add(p.production_id)
        elif v.uit_place_uuid:
            ids.add(v.uit_place_uuid)
    return tuple(sorted(ids)), tuple(sorted(productions))


def demo_tenants(season: Season) -> list[DemoTenant]:
    """The two vendor tenants and the app tenant, registered for what ``season`` sells."""
    out = []
    for vendor in (EVENTIX, STAGER):
        venues, productions = _registered_for(season, vendor)
        out.append(DemoTenant(f"demo-{vendor}", "vendor", (vendor,), venues, productions))
    out.append(DemoTenant(APP, "app"))
    return out


def _issue(settings: Settings, t: DemoTenant) -> Issued:
    admin = make_admin(settings.kafka)
    try:
        return add_tenant(settings, admin, t.kind, t.name,  # type: ignore[arg-type]
                          venues=t.venues, productions=t.productions)
    except TenantError as exc:
        if "exists" not in str(exc):
            raise
        return rotate_tenant(settings, admin, t.name)


def start_tenants(pipeline: Pipeline, tenants: Sequence[DemoTenant]) -> Settings | None:
    """Create (or re-key) ``tenants``; add a receiver role per vendor tenant to ``pipeline``
    and route its vendors there. Returns the app tenant's settings (None without one)."""
    secrets = StackSecrets(pipeline.stack.dir)
    app: Settings | None = None
    for t in tenants:
        issued = _issue(pipeline.settings, t)
        principal = principal_of(t.name)
        secrets.set(f"kafka/{principal}", issued.password)  # so stack.client_env(principal) logs in
        if t.kind == "app":
            app = pipeline.settings.model_copy(update={
                "kafka": pipeline.stack.kafka_client(principal),
                "registry": pipeline.stack.registry_client(principal)})
            continue
        (port,) = free_ports(1)
        host = pipeline.settings.connector.http_host
        shared = next(r for r in pipeline.roles if r.name == "webhook")  # same options, own tenant
        pipeline.roles.append(Role(
            f"webhook-{t.name}", list(shared.argv), pipeline.logs / f"webhook-{t.name}.log",
            "connector", f"{host}:{port}", principal,
            env={"CULTUURBUS_CONNECTOR__TENANT": t.name,
                 "CULTUURBUS_CONNECTOR__HTTP_PORT": str(port),
                 **pseudonym_env(pipeline.stack.dir)}))
        for vendor in t.vendors:
            pipeline.vendor_receivers[vendor] = f"http://{host}:{port}"
    return app
