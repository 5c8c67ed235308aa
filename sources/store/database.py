"""The Store: one SQLite database, opened, brought to the current schema, and used through
one object whose methods each run one short transaction.

The SQL lives by concern in the parts the Store is made of (sources.py, fetches.py,
items.py, archives.py, pages.py, deliveries.py, stories.py); the schema and its migrations in schema.py;
the locks beside the database in locks.py. The parts are mixins over one connection: the
callers see one object with every method, as before the split, and a write that spans
concerns (a fetch stores a source's state, its items and an archive to read) is one
transaction on that connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from feeds.errors import InputError
from sources.store.archives import ArchivesPart
from sources.store.connection import connect
from sources.store.deliveries import DeliveriesPart
from sources.store.fetches import FetchesPart
from sources.store.items import ItemsPart
from sources.store.pages import PagesPart
from sources.store.schema import migrate
from sources.store.sources import SourcesPart
from sources.store.stories import StoriesPart


class Store(
    SourcesPart, FetchesPart, ItemsPart, ArchivesPart, PagesPart, DeliveriesPart, StoriesPart
):
    """One SQLite database. Use as a context manager; every method is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = connect(path)
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise InputError(
                path, None, f"not a usable communique database ({exc}); move it aside"
            ) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()
