"""What an audited use case works in: a database and a clock (an entry's time is the
clock's). The node and the case work are such contexts; :class:`DatabaseAtHand` is the
plainest one, for the commands that work on the database without the rest of the node
(accounts, the audit log's verification)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.store.transactions import Database


class Audited(Protocol):
    """The context of an audited use case."""

    @property
    def db(self) -> Database:
        """The database the use case opens its transaction in."""
        ...

    @property
    def clock(self) -> Callable[[], datetime]:
        """The time of what it does."""
        ...


@dataclass(frozen=True)
class DatabaseAtHand:
    """A database and a clock, without the rest of the node."""

    db: Database
    clock: Callable[[], datetime]
