"""The webhook receiver's settings are the ``webhook`` section of the one settings model
(``bus.settings.WebhookSettings``: the TOML file's ``[webhook]`` table and the
``CULTUURBUS_WEBHOOK__*`` variables alike); this name stays for the receiver's modules.
"""

from __future__ import annotations

from bus.settings import WebhookSettings

__all__ = ["WebhookSettings"]
