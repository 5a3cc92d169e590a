"""Hash chains over the append-only records: the audit log and the setpoint write log.

Every row carries `prev_hash` (its predecessor's `row_hash`; 64 zeros for the first row) and
`row_hash` = SHA-256 of the table name, `prev_hash` and the row's content (every other column,
the id included) in a canonical JSON form. The table `chain_heads` records each chain's last id,
last hash and row count.

    append_chained(conn, audit_log, {"time": now, "actor": ..., ...})   # inside a transaction
    report = verify_chain(store, "audit_log")                              # first broken row

Appends are serialized by updating the chain's head row first (a row lock on PostgreSQL, the
write lock on SQLite), so two writers never chain onto the same predecessor; ids are allocated
under that lock as last id + 1. (Rows migrated from before the chains may have gaps in their ids:
housekeeping used to delete old setpoint writes; the chain starts after them.)

What verification finds: an edited row (its content no longer gives its hash), a deleted row
(its successor's prev_hash points at a hash no remaining row has), a re-inserted
or forged row (its prev_hash does not match its predecessor), a truncated table or removed last
rows (the table ends before the head recorded in chain_heads). Someone able to rewrite both a
table and chain_heads consistently (the database owner) can only be caught against a head
recorded elsewhere: `kv audit verify` prints the heads for that purpose, and `--expect` checks
against one recorded earlier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select, update

from energy.store.engine import Store
from energy.store.schema import audit_log, chain_heads, setpoint_writes

__all__ = [
    "CHAINED_TABLES",
    "GENESIS_HASH",
    "ChainReport",
    "append_chained",
    "row_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
CHAINED_TABLES: dict[str, Table] = {"audit_log": audit_log, "setpoint_writes": setpoint_writes}
_HASH_COLUMNS = frozenset({"prev_hash", "row_hash"})


def _plain(value: Any) -> Any:
    """A column value in the form it is hashed in (identical after a round trip through either
    backend: times in UTC with microseconds, non-finite floats as text)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"hash chain: naive time {value!r}")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def row_hash(table_name: str, prev_hash: str, row: Mapping[Any, Any]) -> str:
    """The hash of one row given its predecessor's hash (row: every column but the hashes)."""
    table = CHAINED_TABLES[table_name]
    content = {
        c.name: _plain(row.get(c.name)) for c in table.columns if c.name not in _HASH_COLUMNS
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256()
    digest.update(f"{table_name}\n{prev_hash}\n".encode())
    digest.update(canonical.encode())
    return digest.hexdigest()


def append_chained(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    """Insert one row of a chained table inside the caller's transaction; returns its id."""
    name = table.name
    # take the chain's lock before reading its head (see the module docstring)
    locked = conn.execute(
        update(chain_heads).where(chain_heads.c.name == name).values(name=name)
    ).rowcount
    if locked != 1:
        raise RuntimeError(f"hash chain {name}: no head row in chain_heads (run `kv db upgrade`)")
    head = conn.execute(select(chain_heads).where(chain_heads.c.name == name)).one()
    row = {**values, "id": int(head.last_id) + 1}
    digest = row_hash(name, head.last_hash, row)
    conn.execute(table.insert().values(**row, prev_hash=head.last_hash, row_hash=digest))
    conn.execute(
        update(chain_heads)
        .where(chain_heads.c.name == name)
        .values(last_id=row["id"], last_hash=digest, rows=head.rows + 1)
    )
    return int(row["id"])


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying one chain. `broken_id` is the first row found broken (None: the
    table itself is intact, but may end early; see `problem`)."""

    table: str
    rows: int
    head_id: int
    head_hash: str
    problem: str | None = None
    broken_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(store: Store, table_name: str, batch_rows: int = 10_000) -> ChainReport:
    """Walk one chain in id order and name the first row that breaks it."""
    table = CHAINED_TABLES[table_name]
    with store.engine.connect() as conn:
        head = conn.execute(select(chain_heads).where(chain_heads.c.name == table_name)).first()
        if head is None:
            return ChainReport(table_name, 0, 0, GENESIS_HASH, "no chain head: not migrated")
        result = conn.execution_options(yield_per=batch_rows).execute(
            select(table).order_by(table.c.id)
        )
        previous_hash, previous_id, rows = GENESIS_HASH, 0, 0
        for row in result:
            data = row._mapping
            rows += 1

            def broken(problem: str, row_id: int = row.id, seen: int = rows) -> ChainReport:
                return ChainReport(
                    table_name, seen, head.last_id, head.last_hash, problem, broken_id=row_id
                )

            if row.prev_hash != previous_hash:
                where = f"row {previous_id}" if previous_id else "the start of the chain"
                gap = (
                    ""
                    if row.id == previous_id + 1
                    else f" (rows {previous_id + 1}-{row.id - 1} missing)"
                )
                return broken(
                    f"row {row.id}: prev_hash does not match {where}{gap}: a row before it was "
                    "deleted, or this row was inserted out of the chain"
                )
            if row_hash(table_name, row.prev_hash, data) != row.row_hash:
                return broken(f"row {row.id}: its content does not match its hash: edited")
            previous_hash, previous_id = row.row_hash, row.id
    if previous_id != head.last_id or previous_hash != head.last_hash:
        return ChainReport(
            table_name,
            rows,
            head.last_id,
            head.last_hash,
            f"the table ends at row {previous_id or 'none'} but its chain head records row "
            f"{head.last_id}: rows at the end were removed (deleted or truncated)",
            broken_id=previous_id + 1,
        )
    return ChainReport(table_name, rows, head.last_id, head.last_hash)
