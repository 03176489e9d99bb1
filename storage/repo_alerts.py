"""Repository functions for the alert outbox (alerts, claims, delivery attempts), keyword-only.

Like `storage.repository`, none of them commits: the caller owns the transaction. An alert per
development and channel is at-most-once through the database's unique constraint.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitors.kinds import AlertStatus, AttemptOutcome
from storage.models import (
    Alert,
    DeliveryAttempt,
)


# --- alerts (outbox) -----------------------------------------------------------------------
def add_alert(session: Session, *, alert: Alert) -> bool:
    """Add an alert to the outbox inside the caller's transaction, unless the same one exists.

    Returns False when (monitor, channel, kind, dedup_key) is already present. Uses a
    savepoint so a concurrent insert by another run only drops this alert, not the transaction.
    """
    exists = session.exec(
        select(Alert.id).where(
            Alert.monitor == alert.monitor,
            Alert.channel == alert.channel,
            Alert.kind == alert.kind,
            Alert.dedup_key == alert.dedup_key,
        )
    ).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return False
    return True


def claim_due_alerts(
    session: Session,
    *,
    monitor: str,
    now: datetime,
    lease: timedelta,
    limit: int = 100,
    ids: Sequence[int] | None = None,
    channel: str | None = None,
) -> list[Alert]:
    """Atomically claim pending alerts that are due (and stale claims past their lease),
    of one channel when `channel` is given.

    A claim is a conditional UPDATE, so two runs never claim the same alert; the caller commits
    the claims before sending. A run that dies mid-delivery leaves a claim that expires after
    `lease`, and the next run sends it (at most one duplicate, if the first run had sent it
    before dying).
    """
    due = or_(
        (col(Alert.status) == AlertStatus.PENDING)
        & or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now),
        (col(Alert.status) == AlertStatus.SENDING) & (col(Alert.claimed_until) < now),
    )
    q = select(Alert.id).where(Alert.monitor == monitor, due)
    if ids is not None:
        q = q.where(col(Alert.id).in_(list(ids)))
    if channel is not None:
        q = q.where(col(Alert.channel) == channel)
    candidates = list(session.exec(q.order_by(col(Alert.id)).limit(limit)))
    claimed: list[int] = []
    for aid in candidates:
        res = session.execute(
            update(Alert)
            .where(col(Alert.id) == aid, due)
            .values(status=AlertStatus.SENDING, claimed_until=now + lease)
        )
        if getattr(res, "rowcount", 0) == 1:
            claimed.append(int(aid or 0))
    if not claimed:
        return []
    return list(
        session.exec(select(Alert).where(col(Alert.id).in_(claimed)).order_by(col(Alert.id)))
    )


def record_attempt(
    session: Session,
    *,
    alert: Alert,
    outcome: str,
    detail: str,
    now: datetime,
    next_attempt_at: datetime | None = None,
) -> Alert:
    """Record one delivery attempt and move the alert to sent, pending (retry) or dead."""
    session.add(DeliveryAttempt(alert_id=alert.id or 0, at=now, outcome=outcome, detail=detail))
    alert.attempts += 1
    alert.claimed_until = None
    if outcome == AttemptOutcome.SENT:
        alert.status = AlertStatus.SENT
        alert.sent_at = now
        alert.last_error = None
    elif outcome == AttemptOutcome.TRANSIENT and next_attempt_at is not None:
        alert.status = AlertStatus.PENDING
        alert.next_attempt_at = next_attempt_at
        alert.last_error = detail
    else:
        alert.status = AlertStatus.DEAD
        alert.last_error = detail
    session.add(alert)
    return alert


def release_alert(session: Session, *, alert: Alert, until: datetime) -> Alert:
    """Give a claimed alert back, due again at `until`, without counting an attempt."""
    alert.status = AlertStatus.PENDING
    alert.claimed_until = None
    alert.next_attempt_at = until
    session.add(alert)
    return alert


def list_alerts(
    session: Session, *, monitor: str | None = None, status: str | None = None
) -> list[Alert]:
    """Alerts, oldest first (of one monitor / status when given)."""
    q = select(Alert).order_by(col(Alert.id))
    if monitor is not None:
        q = q.where(Alert.monitor == monitor)
    if status is not None:
        q = q.where(Alert.status == status)
    return list(session.exec(q))


def attempts_of(session: Session, *, alert_id: int) -> list[DeliveryAttempt]:
    """Delivery attempts of an alert, in order."""
    q = select(DeliveryAttempt).where(DeliveryAttempt.alert_id == alert_id)
    return list(session.exec(q.order_by(col(DeliveryAttempt.id))))


def requeue_dead_alerts(
    session: Session, *, monitor: str, alert_ids: Sequence[int] | None = None
) -> int:
    """Move dead-lettered alerts back to pending (all, or the given ids); returns how many."""
    q = update(Alert).where(col(Alert.monitor) == monitor, col(Alert.status) == AlertStatus.DEAD)
    if alert_ids:
        q = q.where(col(Alert.id).in_(list(alert_ids)))
    res = session.execute(q.values(status=AlertStatus.PENDING, next_attempt_at=None, attempts=0))
    return int(getattr(res, "rowcount", 0) or 0)


def release_claims(session: Session, *, monitor: str) -> int:
    """Give back every alert claim of the monitor (its claimant died); returns how many."""
    q = update(Alert).where(col(Alert.monitor) == monitor, col(Alert.status) == AlertStatus.SENDING)
    res = session.execute(q.values(status=AlertStatus.PENDING, claimed_until=None))
    return int(getattr(res, "rowcount", 0) or 0)


def due_alert_channels(
    session: Session, *, monitor: str, now: datetime, ids: Sequence[int] | None = None
) -> list[str]:
    """Channels with alerts due now (pending and due, or claims past their lease), sorted."""
    due = or_(
        (col(Alert.status) == AlertStatus.PENDING)
        & or_(col(Alert.next_attempt_at).is_(None), col(Alert.next_attempt_at) <= now),
        (col(Alert.status) == AlertStatus.SENDING) & (col(Alert.claimed_until) < now),
    )
    q = select(Alert.channel).where(Alert.monitor == monitor, due).distinct()
    if ids is not None:
        q = q.where(col(Alert.id).in_(list(ids)))
    return sorted(session.exec(q))
