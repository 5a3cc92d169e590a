"""A bounded on-disk outbox of JSON messages (SQLite file), so a broker outage loses nothing
within the bound and a restart of the platform keeps what was not yet delivered.

    box = Outbox(path, max_messages=200_000)
    box.put([("kv/site/district/measurements", {...}, 1, False)])   # seq assigned, JSON stored
    batch = box.peek(500)        # oldest first
    box.remove([m.seq for m in delivered])

Each message gets a sequence number that increases by one per message for the life of the file,
written into its payload as `seq`. When the outbox is full, the oldest messages are dropped and
counted (`dropped_total`, persisted) and an error is logged: the bound is what an operator sizes
for the longest outage to bridge (messages per minute x minutes).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Outbox", "OutboxMessage"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('next_seq', 1), ('dropped_total', 0);
"""


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Outbox:
    """See the module docstring. Thread-safe; one process owns a file at a time."""

    def __init__(self, path: str | Path, max_messages: int):
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1; found {max_messages}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def _meta(self, key: str) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def put(self, messages: Sequence[tuple[str, dict[str, Any], int, bool]]) -> list[int]:
        """Append (topic, payload object, qos, retain) messages; returns their seq numbers."""
        if not messages:
            return []
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                first = self._meta("next_seq")
                rows = [
                    (
                        first + i,
                        topic,
                        json.dumps({**payload, "seq": first + i}).encode(),
                        qos,
                        int(retain),
                    )
                    for i, (topic, payload, qos, retain) in enumerate(messages)
                ]
                self._conn.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?)", rows)
                self._conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'next_seq'", (first + len(rows),)
                )
                excess = self._count() - self.max_messages
                if excess > 0:
                    self._conn.execute(
                        "DELETE FROM messages WHERE seq IN "
                        "(SELECT seq FROM messages ORDER BY seq LIMIT ?)",
                        (excess,),
                    )
                    self._conn.execute(
                        "UPDATE meta SET value = value + ? WHERE key = 'dropped_total'", (excess,)
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if excess > 0:
            log.error(
                "outbox %s full (%d messages): dropped the %d oldest undelivered messages",
                self.path,
                self.max_messages,
                excess,
            )
        return [row[0] for row in rows]

    def _count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

    def peek(self, limit: int) -> list[OutboxMessage]:
        """The oldest `limit` messages, oldest first (they stay until removed)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, payload, qos, retain FROM messages ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4])) for r in rows]

    def remove(self, seqs: Sequence[int]) -> None:
        """Forget delivered messages."""
        if not seqs:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in seqs])
            self._conn.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    @property
    def dropped_total(self) -> int:
        with self._lock:
            return self._meta("dropped_total")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
