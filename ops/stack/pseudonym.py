"""The buyer pseudonym key of a local stack, and its rotation.

A connector pseudonymises buyers with the deployment's HMAC key (``connectors.sdk.privacy``),
which comes from outside the repository and the topics. On a local stack it is the stack
secret ``pseudonym/key`` (``<stack dir>/secrets/credentials.json``, 0600), and its key id
the secret ``pseudonym/key-id``; :func:`pseudonym_env` gives the variables a connector
started against the stack needs. ``cultuurbus pseudonym rotate`` makes a new key with the
next id: connectors started afterwards use it, and every buyer is new under it
(``docs/pseudonyms.md`` says what that does to returning-visitor counts). A production
deployment sets ``CULTUURBUS_CONNECTOR__BUYER_SECRET_FILE`` (a mounted secret) and
``CULTUURBUS_CONNECTOR__BUYER_KEY_ID`` itself.
"""

from __future__ import annotations

from pathlib import Path

import click

from bus.tenants import new_secret
from ops.stack.secrets import StackSecrets

__all__ = ["KEY", "KEY_ID", "key_id", "pseudonym", "pseudonym_env", "rotate_key"]

KEY = "pseudonym/key"
KEY_ID = "pseudonym/key-id"


def key_id(stack_dir: Path) -> int:
    """The id of the stack's current pseudonym key (1 until the first rotation)."""
    secrets = StackSecrets(stack_dir)
    held = secrets.peek(KEY_ID)
    if held is None:
        secrets.set(KEY_ID, "1")
        return 1
    return int(held)


def pseudonym_env(stack_dir: Path) -> dict[str, str]:
    """``CULTUURBUS_CONNECTOR__BUYER_*`` variables that give a connector the stack's key."""
    return {"CULTUURBUS_CONNECTOR__BUYER_SECRET": StackSecrets(stack_dir).get(KEY),
            "CULTUURBUS_CONNECTOR__BUYER_KEY_ID": str(key_id(stack_dir))}


def rotate_key(stack_dir: Path) -> int:
    """Replace the stack's key with a new one under the next id (after 255: 1); the new id."""
    secrets = StackSecrets(stack_dir)
    new_id = key_id(stack_dir) % 255 + 1
    secrets.set(KEY, new_secret(32))
    secrets.set(KEY_ID, str(new_id))
    return new_id


@click.group("pseudonym")
@click.option("--stack-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The stack's directory (default: $CULTUURBUS_STACK_DIR or .stack).")
@click.pass_context
def pseudonym(ctx: click.Context, stack_dir: Path | None) -> None:
    """The local stack's buyer pseudonym key (docs/pseudonyms.md)."""
    if stack_dir is None:
        from ops.stack.settings import StackSettings

        stack_dir = StackSettings().dir
    ctx.obj = stack_dir


@pseudonym.command("status")
@click.pass_obj
def status(stack_dir: Path) -> None:
    """Which key id connectors of this stack use (never the key itself)."""
    made = StackSecrets(stack_dir).peek(KEY) is not None
    click.echo(f"pseudonym key id {key_id(stack_dir)}" + ("" if made else " (not made yet)"))


@pseudonym.command("rotate")
@click.confirmation_option(prompt="Every buyer will count as new under the new key "
                                  "(docs/pseudonyms.md). Rotate?")
@click.pass_obj
def rotate(stack_dir: Path) -> None:
    """Make a new key with the next id; restart the connectors to use it."""
    new_id = rotate_key(stack_dir)
    click.echo(f"pseudonym key id {new_id}: restart the connectors (`cultuurbus demo` and "
               "`stack` roles pick it up when they start); pseudonyms made from now on start "
               f"with {new_id:02x}")
