"""schema.org Event JSON-LD on web pages: performances from venue and festival sites."""

from connectors.calendar.schemaorg.extract import blocks_of
from connectors.calendar.schemaorg.mapping import Page, map_page
from connectors.calendar.schemaorg.source import SchemaOrgSource

__all__ = ["Page", "SchemaOrgSource", "blocks_of", "map_page"]
