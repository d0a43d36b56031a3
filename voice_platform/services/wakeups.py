"""Wake this process's background loops the moment a transaction leaves them work.

The loops (webhook events, deliveries, analyses, summary mails) also poll the database, so work
committed by another process is found within a poll interval; work committed here is taken at
once, which is what keeps the event-to-delivery time short. Only ``threading.Event``: a service
stays frameworkless, and a wake-up that nobody waits for costs nothing.
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

# What a committed transaction may have left: events to fan out or deliveries to send; analyses;
# campaign contacts to dial (a call ended, a campaign started or resumed).
WEBHOOKS = threading.Event()
ANALYSES = threading.Event()
DIALER = threading.Event()


def after_commit(session: Session, *signals: threading.Event) -> None:
    """Set ``signals`` once ``session``'s transaction commits (nothing happens on a rollback).

    Kept in ``session.info`` and fired by one listener for every session (registered once below):
    a per-session ``event.listen`` would cost more than the close it rides on (bench_call_close).
    """
    session.info.setdefault(_KEY, set()).update(signals)


_KEY = "voice_platform.wakeups"


def _fire(session) -> None:
    for signal in session.info.pop(_KEY, ()):
        signal.set()


def _forget(session, _previous_transaction=None) -> None:
    session.info.pop(_KEY, None)


event.listen(OrmSession, "after_commit", _fire)
event.listen(OrmSession, "after_soft_rollback", _forget)
