"""``cultuurbus catalog list [--json]`` and ``cultuurbus catalog export --dcat [-o FILE]``.

The root group puts the :class:`bus.settings.Settings` in ``ctx.find_root().obj``; topic
names carry its ``topic_prefix`` and the DCAT-AP export's access URLs its endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bus.errors import BusError
from bus.settings import Settings

__all__ = ["catalog"]


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj  # type: ignore[no-any-return]


@click.group(invoke_without_command=True)
@click.pass_context
def catalog(ctx: click.Context) -> None:
    """The data products: every topic, table, endpoint and report, who owns it, who may use it.

    Without a subcommand: ``catalog list``.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(catalog_list)


@catalog.command("list")
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON (ports, schemas, "
              "retention, grants, terms).")
@click.pass_context
def catalog_list(ctx: click.Context, as_json: bool = False) -> None:
    """One line per product: id, classification, owner, ports (kind:name)."""
    from ops.catalog.build import build_catalog, uncatalogued

    built = build_catalog(_settings(ctx).topic_prefix)
    if as_json:
        click.echo(json.dumps(built.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"{'product':20} {'classification':17} {'owner':36} ports")
        for p in built.products:
            ports = ", ".join(f"{port.kind}:{port.name}" for port in p.ports)
            click.echo(f"{p.id:20} {p.classification:17} {p.owner[:36]:36} {ports}")
    missing = uncatalogued()
    if missing:
        click.echo(f"warning: not in any data product (add them to ops/catalog/products.py): "
                   f"{', '.join(missing)}", err=True)


@catalog.command("export")
@click.option("--dcat", "dcat", is_flag=True, required=True,
              help="Export as a DCAT-AP 3.0.1 JSON-LD document (the one format for now).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@click.option("--base-iri", default="urn:cultuurbus:", show_default=True,
              help="IRIs of the catalog, its products and ports start with this.")
@click.option("--publisher", default="cultuurbus operator", show_default=True,
              help="The organisation publishing the catalog (foaf:name).")
@click.option("--validate/--no-validate", "check", default=True, show_default=True,
              help="Validate against DCAT-AP's SHACL shapes first; refuse to write a document "
                   "that does not conform.")
@click.pass_context
def catalog_export(ctx: click.Context, dcat: bool, output: Path | None, base_iri: str,
                   publisher: str, check: bool) -> None:
    """Export the catalog for data portals (DCAT-AP, as European and OSLO portals harvest)."""
    from ops.catalog.build import build_catalog
    from ops.catalog.dcat import DCAT_AP_VERSION, Endpoints, export_jsonld, validate

    settings = _settings(ctx)
    doc = export_jsonld(build_catalog(settings.topic_prefix), Endpoints.of(settings),
                        base_iri=base_iri, publisher=publisher)
    if check:
        result = validate(doc)
        if not result.conforms:
            broken = ", ".join(f"{n} in {name}" for name, n in result.violations.items() if n)
            raise BusError(f"the DCAT-AP {DCAT_AP_VERSION} export breaks SHACL constraints "
                           f"({broken}); fix ops/catalog/dcat.py or ops/catalog/products.py, or "
                           f"export with --no-validate to inspect it:\n{result.report}")
    if output is None:
        click.echo(doc, nl=False)
        return
    output.write_text(doc, encoding="utf-8")
    note = f", valid against DCAT-AP {DCAT_AP_VERSION} SHACL" if check else ""
    click.echo(f"wrote {output} ({len(doc)} bytes{note})", err=True)
