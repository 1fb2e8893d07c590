"""Settings that cannot be silently wrong: a key in the TOML file or a ``CULTUURBUS_*``
variable that names no setting is an error naming the nearest valid one.

Variables of the other tools that share the prefix are left alone: the local stack
(``CULTUURBUS_STACK_*``), the vendor connectors' credentials (``CULTUURBUS_TICKETMATIC_*``,
``CULTUURBUS_UITDATABANK_*``, ``CULTUURBUS_DIP_*``), the simulator, bench and test switches.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bus.errors import ConfigError

__all__ = ["OTHER_TOOLS", "check_environment", "check_toml_keys"]

PREFIX = "CULTUURBUS_"
#: Variables with these prefixes belong to other tools (CLI options' env defaults).
OTHER_TOOLS = ("STACK_", "TICKETMATIC_", "UITDATABANK_", "DIP_", "SIMULATE_", "BENCH_", "TEST_",
               "CONFIG_FILE")


def _section(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    field = model.model_fields.get(name)
    ann = field.annotation if field is not None else None
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _nearest(word: str, choices: list[str], spell: str = "{}") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {spell.format(close[0])}?"
    return f"; valid: {', '.join(spell.format(c) for c in sorted(choices))}"


def _check_table(model: type[BaseModel], table: Mapping[str, Any], where: str, path: Path) -> None:
    names = list(model.model_fields)
    for key, value in table.items():
        if key not in model.model_fields:
            raise ConfigError(f"{path}: unknown setting {where}{key}"
                              f"{_nearest(key, names, where + '{}')}")
        sub = _section(model, key)
        if sub is not None and isinstance(value, Mapping):
            _check_table(sub, value, f"{where}{key}.", path)


def check_toml_keys(model: type[BaseModel], path: Path) -> None:
    """Raises:
    ConfigError: the file is not TOML, or a key names no setting.

    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read as TOML: {exc}") from exc
    _check_table(model, data, "", path)


def check_environment(model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Raises:
    ConfigError: a ``CULTUURBUS_*`` variable names no setting (nor another tool's).

    """
    top = list(model.model_fields)
    for var in sorted(environ):
        if not var.upper().startswith(PREFIX):
            continue
        rest = var[len(PREFIX):].lower()
        if rest.upper().startswith(OTHER_TOOLS):
            continue
        head, _, tail = rest.partition("__")
        if head not in model.model_fields:
            spell = PREFIX + "{}" + ("__" + tail.upper() if tail else "")
            nearest = _nearest(head.upper(), [t.upper() for t in top], spell)
            raise ConfigError(f"environment variable {var} names no setting{nearest} (sections "
                              "are joined with __, e.g. CULTUURBUS_KAFKA__CLIENT_ID)")
        sub = _section(model, head)
        if not tail:
            continue
        if sub is None:
            raise ConfigError(f"environment variable {var}: {head!r} is a plain setting, not a "
                              f"section; set {PREFIX}{head.upper()} instead")
        key = tail.split("__", 1)[0]
        if key not in sub.model_fields:
            spell = f"{PREFIX}{head.upper()}__" + "{}"
            raise ConfigError(f"environment variable {var}: section {head} has no setting "
                              f"{key}{_nearest(key.upper(), [k.upper() for k in sub.model_fields], spell)}")
