"""``destination.kind = "sqlite"``: each event becomes a row of a SQLite table."""

import asyncio
import sqlite3
from collections.abc import Sequence

from pydantic import Field

from kete_core import ComponentConfig, DeliveryResults, Message, Sink, SinkContext, Unavailable


class SqliteSinkConfig(ComponentConfig):
    path: str
    table: str = Field(default="events", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqliteSink(Sink):
    Config = SqliteSinkConfig
    config: SqliteSinkConfig

    def __init__(self, config: SqliteSinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.insert = f"INSERT INTO {config.table} VALUES (?, ?, ?, ?)"

    async def start(self) -> None:
        self.db = sqlite3.connect(self.config.path, timeout=0.5, check_same_thread=False)
        with self.db:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {self.config.table} (kind, type, realm, payload)")

    async def send(self, messages: Sequence[Message]) -> DeliveryResults:
        rows = [(m.event.kind, m.event.event_type, m.event.realm, m.payload) for m in messages]
        try:
            await asyncio.to_thread(self._insert, rows)
        except sqlite3.OperationalError as exc:  # locked by another writer: kete waits and retries
            raise Unavailable(f"{self.config.path}: {exc}") from exc
        return None

    def _insert(self, rows: list[tuple[str, str, str, bytes]]) -> None:
        with self.db:  # one transaction: the batch is delivered once it is committed
            self.db.executemany(self.insert, rows)

    async def close(self) -> None:
        self.db.close()
