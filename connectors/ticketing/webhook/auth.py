"""How a delivery proves which account sent it: one mode per vendor/account.

No vendor signs its webhooks (``docs/identity-sources.md``), so each account is
authenticated by what its vendor really offers. The mode is the setting that holds the
account's credential:

==================  ================================  ==========================================
mode                setting (``CULTUURBUS_WEBHOOK__``)  what a delivery must carry
==================  ================================  ==========================================
``url-token``       ``URL_TOKENS``                    the token as the URL's last segment:
                                                      ``POST /webhooks/{vendor}/{account}/{token}``
``openticket-nonce``  ``OPENTICKET_NONCES``           Eventix/OpenTicket: header
                                                      ``OpenTicket-Identifier`` = the nonce of the
                                                      webhook's creation response
``hmac``            ``SECRETS``                       ``X-Signature`` (``signing.py``): signing
                                                      relays and vendors that can sign
``eventbrite-fetch``  ``EVENTBRITE_TOKENS`` (the      nothing: the body is only a pointer and
                    account's own, not ``*``)         only what the receiver fetches from an
                                                      allowed API host with that token counts
==================  ================================  ==========================================

Recommended: Eventix ``openticket-nonce`` (or ``url-token``), Stager ``url-token`` (plus
``STAGER_ALLOW_FROM``, the CIDRs Stager connects from), Eventbrite ``url-token``, whose
body is always only a pointer to fetch. Lookup: the ``"vendor/account"`` key in every
map first, then the ``"vendor"`` key; one key in two maps is refused at start. An
account with none is refused (404) naming the settings to add. Tokens and nonces are
compared in constant time and never written to logs, metrics or answers.

What an unsigned delivery cannot protect: with a token or a nonce, a header (Eventix's
``OpenTicket-Trigger``) is exactly as trusted as the body. Whoever knows the credential
can send any trigger; replay detection still keys on body content + trigger.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Literal

from pydantic import SecretStr

from bus.errors import ConfigError
from connectors.ticketing.webhook.errors import PeerNotAllowed, Unauthenticated, UnknownAccount
from connectors.ticketing.webhook.settings import WebhookSettings

__all__ = ["NONCE_HEADER", "TOKEN_PATTERN", "AccountAuth", "Mode", "check_delivery", "check_settings",
           "missing", "modes", "resolve"]

Mode = Literal["hmac", "url-token", "openticket-nonce", "eventbrite-fetch"]
NONCE_HEADER = "OpenTicket-Identifier"
_EVENTIX, _EVENTBRITE, _STAGER = "eventix", "eventbrite", "stager"
#: The maps a credential can be in, in the order an operator reads them.
_MAPS: tuple[tuple[Mode, str], ...] = (("url-token", "url_tokens"),
                                       ("openticket-nonce", "openticket_nonces"),
                                       ("hmac", "secrets"))
#: What a URL token may be (URL-safe without escaping, long enough to be secret).
TOKEN_PATTERN = r"^[A-Za-z0-9._~-]{16,256}$"  # noqa: S105 - a pattern, not a token
_TOKEN = re.compile(TOKEN_PATTERN)
_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _env(setting: str) -> str:
    return f"CULTUURBUS_WEBHOOK__{setting.upper()}"


@dataclass(frozen=True)
class AccountAuth:
    """One account's mode, its credential and where it is configured (for messages)."""

    mode: Mode
    setting: str
    key: str
    credential: SecretStr

    @property
    def where(self) -> str:
        return f'{_env(self.setting)}["{self.key}"]'


def resolve(settings: WebhookSettings, vendor: str, account: str) -> AccountAuth | None:
    """The mode of ``vendor/account``, or None when nothing authenticates it."""
    for key in (f"{vendor}/{account}", vendor):
        for mode, setting in _MAPS:
            value = getattr(settings, setting).get(key)
            if value is not None:
                return AccountAuth(mode, setting, key, value)
    if vendor == _EVENTBRITE and account in settings.eventbrite_tokens:
        return AccountAuth("eventbrite-fetch", "eventbrite_tokens", account,
                           settings.eventbrite_tokens[account])
    return None


def modes(settings: WebhookSettings) -> dict[str, Mode]:
    """Every configured key and its mode (for the start-up log; no credential in it)."""
    out: dict[str, Mode] = {
        f"{_EVENTBRITE}/{a}": "eventbrite-fetch" for a in settings.eventbrite_tokens
        if a != "*" and not any(_EVENTBRITE in getattr(settings, m) for _, m in _MAPS)}
    for mode, setting in _MAPS:
        out.update(dict.fromkeys(getattr(settings, setting), mode))
    return dict(sorted(out.items()))


def missing(vendor: str, account: str) -> str:
    """What to configure for an account without a credential (the 404's message)."""
    key = f"{vendor}/{account}"
    ways = [f'add "{key}": "<token>" to {_env("url_tokens")} and give {vendor} the delivery '
            f"URL /webhooks/{key}/<token>"]
    if vendor == _EVENTIX:
        ways.append(f'add "{key}": "<nonce of the webhook>" to {_env("openticket_nonces")}')
    ways.append(f'add "{key}" to {_env("secrets")} (or --secret {key}=...) for a signing relay')
    return f"no credential configured for {key}: " + "; or ".join(ways)


def check_settings(settings: WebhookSettings, vendors: Sequence[str]) -> None:
    """Refuse, at start, a key naming an unknown vendor, a nonce for another vendor than
    Eventix, a token too short to be secret, or one key in two modes.

    Raises:
        ConfigError: naming the setting and the key.

    """
    seen: dict[str, str] = {}
    for _mode, setting in _MAPS:
        values: Mapping[str, SecretStr] = getattr(settings, setting)
        for key, value in values.items():
            vendor = key.split("/", 1)[0]
            if vendor not in vendors:
                raise ConfigError(f'{_env(setting)}["{key}"]: unknown vendor {vendor!r}; '
                                  f"known: {', '.join(vendors)}")
            if setting == "openticket_nonces" and vendor != _EVENTIX:
                raise ConfigError(f'{_env(setting)}["{key}"]: only Eventix/OpenTicket sends a '
                                  f"nonce; use {_env('url_tokens')} for {vendor}")
            if setting == "url_tokens" and not _TOKEN.fullmatch(value.get_secret_value()):
                raise ConfigError(f'{_env(setting)}["{key}"]: a URL token is 16 to 256 of '
                                  "A-Z a-z 0-9 . _ ~ -; make one with " + _MAKE_ONE)
            if setting == "openticket_nonces" and not value.get_secret_value().strip():
                raise ConfigError(f'{_env(setting)}["{key}"] is empty: copy the nonce of the '
                                  "webhook's creation response")
            if key in seen:
                raise ConfigError(f'"{key}" is in both {_env(seen[key])} and {_env(setting)}: '
                                  "an account has one mode; remove it from one of them")
            seen[key] = setting


def _same(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               expected.get_secret_value().encode())


def check_delivery(settings: WebhookSettings, auth: AccountAuth, vendor: str, account: str,
                   token: str | None, headers: Mapping[str, str], peer: str | None) -> None:
    """Everything but an HMAC (which needs the body): the peer address (Stager), the URL
    token, the nonce. ``headers`` have lower-case names.

    Raises:
        PeerNotAllowed: a Stager delivery from outside ``stager_allow_from`` (403).
        UnknownAccount: a token in the URL of an account that takes none (404).
        Unauthenticated: a missing or wrong token or nonce (401).

    """
    key = f"{vendor}/{account}"
    if vendor == _STAGER and settings.stager_allow_from:
        _check_peer(settings.stager_allow_from, peer)
    if auth.mode != "url-token":
        if token is not None:
            raise UnknownAccount(f"{key} takes no token in its URL (mode {auth.mode}, "
                                 f"{_env(auth.setting)}): deliveries go to POST /webhooks/{key}",
                                 field="token")
    elif token is None:
        raise Unauthenticated(f"missing token: {key} is authenticated by a token in its URL "
                              f"({auth.where}); deliveries go to POST /webhooks/{key}/<token>",
                              field="token")
    elif not _same(token, auth.credential):
        raise Unauthenticated(f"wrong token in the delivery URL of {key}: it must be the one in "
                              f"{auth.where}", field="token")
    if auth.mode == "openticket-nonce":
        nonce = headers.get(NONCE_HEADER.lower())
        if not nonce:
            raise Unauthenticated(f"missing header {NONCE_HEADER}: {key} is authenticated by the "
                                  f"webhook's nonce ({auth.where}), which OpenTicket sends in it",
                                  field=f"headers.{NONCE_HEADER}")
        if not _same(nonce.strip(), auth.credential):
            raise Unauthenticated(f"{NONCE_HEADER} does not match the nonce configured in "
                                  f"{auth.where} (the nonce of the webhook's creation response)",
                                  field=f"headers.{NONCE_HEADER}")


def _check_peer(allowed: Sequence[str], peer: str | None) -> None:
    try:
        address = ip_address(peer or "")
    except ValueError:
        address = None
    if address is None or not any(address in ip_network(c, strict=False) for c in allowed):
        raise PeerNotAllowed(f"Stager deliveries must come from {_env('stager_allow_from')} "
                             f"({', '.join(allowed)}); this one came from {peer or 'unknown'}",
                             field="peer")
