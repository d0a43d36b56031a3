"""Wake this process's background loops the moment a transaction leaves them work.

The loops (webhook events, deliveries, analyses, summary mails) also poll the database, so work
committed by another process is found within a poll interval; work committed here is taken at
once, which is what keeps the event-to-delivery time short. Only ``threading.Event``: a service
stays frameworkless, and a wake-up that nobody waits for costs nothing.
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlmodel import Session

# What a committed transaction may have left: events to fan out or deliveries to send; analyses;
# campaign contacts to dial (a call ended, a campaign started or resumed).
WEBHOOKS = threading.Event()
ANALYSES = threading.Event()
DIALER = threading.Event()


def after_commit(session: Session, *signals: threading.Event) -> None:
    """Set ``signals`` once ``session``'s transaction commits (nothing happens on a rollback)."""

    def _set(_session) -> None:
        for signal in signals:
            signal.set()

    event.listen(session, "after_commit", _set, once=True)
