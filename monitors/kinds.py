"""Names the pass stores and compares: statuses, channels and alert kinds, as `StrEnum`s.

Each member equals its string value, so rows written before these enums existed still compare
equal (`feed.status == FeedStatus.OK` for a stored "ok").
"""

from __future__ import annotations

from enum import StrEnum


class FeedStatus(StrEnum):
    """A stored feed's state, as shown by `newsmon feeds`."""

    NEW = "new"
    OK = "ok"
    FAILING = "failing"
    SILENT = "silent"
    DISABLED = "disabled"


class PollStatus(StrEnum):
    """The outcome of polling a feed once."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"
    GONE = "gone"


class ArticleStatus(StrEnum):
    """What a pass did with one entry: stored it as new, stored a changed version, or neither."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class DevelopmentStatus(StrEnum):
    """A development is "known" (a seed covers it) or "new" (found by newsmon)."""

    NEW = "new"
    KNOWN = "known"


class AlertStatus(StrEnum):
    """Where an alert of the outbox stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


class AttemptOutcome(StrEnum):
    """The outcome of one delivery attempt."""

    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class ChannelName(StrEnum):
    """The alert channels a monitor can configure."""

    SLACK = "slack"
    EMAIL = "email"
    OUTBOX = "outbox"


class AlertKind(StrEnum):
    """Why an alert is sent."""

    NEW_DEVELOPMENT = "new_development"
    UPDATE = "update"
    FEED_HEALTH = "feed_health"
    FEED_RECOVERED = "feed_recovered"
    RUN_FAILED = "run_failed"
    DIGEST = "digest"


#: Alert kinds that are news: routed by topic, collected in digests, held in quiet hours and
#: subject to the flood guard. Operational kinds (feed health, failed runs) go out at once.
NEWS_KINDS = frozenset({AlertKind.NEW_DEVELOPMENT, AlertKind.UPDATE})
