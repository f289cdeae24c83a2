"""`ragmem keys create|list|revoke`: API keys for the HTTP API (rag/service/keys.py).

Keys live in the store only (the data dir's SQLite, or PostgreSQL with store.url; no
model is loaded), so these commands also work while a server runs on the same store, and
take effect on its next request.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, load_settings
from rag.service import keys
from rag.storage.store import Store

keys_app = typer.Typer(help="Create, list and revoke API keys (sent as 'Authorization: Bearer').",
                       no_args_is_help=True)


@contextmanager
def open_store(data_dir: DataDirOption) -> Iterator[Store]:
    """The data dir's database, migrated; closed afterwards."""
    store = Store.for_settings(load_settings(data_dir)).connect()
    try:
        yield store
    finally:
        store.close()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="A name for the key (unique among active keys).")],
    admin: Annotated[bool, typer.Option("--admin", help="The key sees every collection, job "
                                        "and session.")] = False,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print its secret, once: only its SHA-256 is stored."""
    with cli_errors(), open_store(data_dir) as store:
        record, secret = keys.create_key(store, name, admin=admin)
        emit(record.to_dict() | {"secret": secret}, as_json, _print_created)


def _print_created(data: dict) -> None:
    kind = "admin key" if data["admin"] else "key"
    console.print(f"created {kind} {data['id']} {data['name']!r}; its secret (shown only now):")
    sys.stdout.write(data["secret"] + "\n")


@keys_app.command("list")
def keys_list(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List keys (id, name, prefix, admin, status); never their secrets."""
    with cli_errors(), open_store(data_dir) as store:
        rows = [k.to_dict() for k in keys.list_keys(store)]
        emit(rows, as_json, _print_keys)


def _print_keys(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table("id", "name", "prefix", "admin", "status")
    for row in rows:
        table.add_row(str(row["id"]), row["name"], row["prefix"] + "...",
                      "yes" if row["admin"] else "", row["status"])
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ref: Annotated[str, typer.Argument(metavar="ID|NAME", help="A key id, or an active key's name.")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: the server answers 401 to it from the next request on."""
    with cli_errors(), open_store(data_dir) as store:
        record = keys.revoke_key(store, ref)
        emit(record.to_dict(), as_json,
             lambda r: console.print(f"revoked key {r['id']} {r['name']!r}"))
