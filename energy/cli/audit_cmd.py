"""`kv audit verify`: check the hash chains of the audit log and the setpoint write log."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from sqlalchemy import select

from energy.cli.params import ConfigOpt, UrlOpt, load_site_or_exit, open_store
from energy.store.chain import CHAINED_TABLES, ChainReport, verify_chain
from energy.store.engine import Store

_TABLE_HELP = f"only these chains ({', '.join(CHAINED_TABLES)}); default all"

app = typer.Typer(help="Verify the tamper-evident records.", no_args_is_help=True)


def _as_dict(report: ChainReport) -> dict[str, object]:
    return {
        "table": report.table,
        "ok": report.ok,
        "rows": report.rows,
        "head_id": report.head_id,
        "head_hash": report.head_hash,
        "broken_id": report.broken_id,
        "problem": report.problem,
    }


@app.command("verify")
def verify(
    config: ConfigOpt = None,
    url: UrlOpt = None,
    table: list[str] = typer.Option(  # noqa: B008 - typer's idiom
        [], "--table", help=_TABLE_HELP
    ),
    expect: list[str] = typer.Option(  # noqa: B008
        [],
        "--expect",
        help="TABLE:ID:HASH, a head printed by an earlier run and kept elsewhere: the chain must "
        "still contain that row with that hash",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the reports as JSON"),
) -> None:
    """Walk each chain in id order; exit 1 naming the first broken row.

    Detects edited rows, deleted rows, re-inserted or forged rows and removed last rows or a
    truncated table (against the chain head). Prints each chain's head (id and hash): keep it
    outside the database and pass it back with --expect to detect a rewrite of the whole chain.
    """
    unknown = [t for t in table if t not in CHAINED_TABLES]
    if unknown:
        typer.echo(f"--table: unknown {unknown}; expected any of {list(CHAINED_TABLES)}", err=True)
        raise typer.Exit(code=2)
    store = open_store(load_site_or_exit(config), url)
    if store.current_revision() != store.head_revision():
        typer.echo(f"store {store.url} is not migrated: run `kv db upgrade`", err=True)
        raise typer.Exit(code=1)
    reports = [verify_chain(store, name) for name in (table or list(CHAINED_TABLES))]
    problems = [r for r in reports if not r.ok]
    expectations = _check_expectations(store, expect)
    if as_json:
        typer.echo(json.dumps({"chains": [_as_dict(r) for r in reports], "expect": expectations}))
    else:
        console = Console()
        for report in reports:
            state = "[green]intact[/]" if report.ok else "[red]BROKEN[/]"
            console.print(
                f"{report.table}: {state}, {report.rows} rows, head row {report.head_id} "
                f"hash {report.head_hash}"
            )
            if report.problem:
                console.print(f"  first broken row: {report.broken_id}: {report.problem}")
        for line in expectations:
            console.print(f"  --expect {line}")
    if problems or any(not e.endswith(": ok") for e in expectations):
        raise typer.Exit(code=1)


def _check_expectations(store: Store, expect: list[str]) -> list[str]:
    results = []
    for item in expect:
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in CHAINED_TABLES or not parts[1].isdigit():
            raise typer.BadParameter(f"{item!r}: expected TABLE:ID:HASH", param_hint="--expect")
        name, row_id, digest = parts[0], int(parts[1]), parts[2]
        chained = CHAINED_TABLES[name]
        with store.engine.connect() as conn:
            found = conn.execute(
                select(chained.c.row_hash).where(chained.c.id == row_id)
            ).scalar_one_or_none()
        if found is None:
            results.append(f"{item}: row {row_id} of {name} is gone")
        elif found != digest:
            results.append(f"{item}: row {row_id} of {name} has hash {found}")
        else:
            results.append(f"{item}: ok")
    return results
