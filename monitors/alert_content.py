"""What an alert says, independent of the channel: `AlertContent` and its stored payload.

`AlertContent` is what the outbox stores (`to_payload()` goes into `Alert.payload`) and what every
channel renders (`monitors.alert_slack`, `monitors.alert_email`, `monitors.alert_templates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from monitors.records import TopicHit


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


AlertKind = Literal[
    "new_development", "update", "feed_health", "feed_recovered", "digest", "run_failed"
]

#: Human label of each alert kind, used in subjects and message headers.
KIND_LABELS: dict[str, str] = {
    "new_development": "New development",
    "update": "Update",
    "feed_health": "Feed problem",
    "feed_recovered": "Feed recovered",
    "digest": "Digest",
    "run_failed": "Run failed",
}

#: Version of the `to_payload()` layout, stored with it.
PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class SourceLink:
    """An article behind an alert: its title, URL, outlet and publication time."""

    title: str
    url: str
    outlet: str
    published: datetime | None = None


@dataclass(frozen=True)
class SeedRef:
    """The nearest seed (known coverage) and its similarity, 0-100 like `DedupMatch.score`."""

    seed_id: str
    title: str
    score: float


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AlertContent:
    """Everything an alert says, independent of the channel. Stored as `Alert.payload`."""

    monitor: str
    kind: AlertKind
    headline: str
    summary: str
    development_id: int | None = None
    topics: list[TopicHit] = field(default_factory=list)
    #: The actors (e.g. north_korea, russia) whose presence put the article in scope.
    actors: list[str] = field(default_factory=list)
    sources: list[SourceLink] = field(default_factory=list)
    nearest_seed: SeedRef | None = None
    run_url: str | None = None
    created_at: datetime = field(default_factory=_utcnow)
    items: list[AlertContent] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        """A JSON-safe dict (datetimes as ISO 8601 strings) for `Alert.payload`."""
        return {
            "version": PAYLOAD_VERSION,
            "monitor": self.monitor,
            "kind": self.kind,
            "headline": self.headline,
            "summary": self.summary,
            "development_id": self.development_id,
            "topics": [
                {"topic": t.topic, "terms": list(t.terms), "evidence": list(t.evidence)}
                for t in self.topics
            ],
            "actors": list(self.actors),
            "sources": [
                {
                    "title": s.title,
                    "url": s.url,
                    "outlet": s.outlet,
                    "published": _iso(s.published) if s.published else None,
                }
                for s in self.sources
            ],
            "nearest_seed": (
                {
                    "seed_id": self.nearest_seed.seed_id,
                    "title": self.nearest_seed.title,
                    "score": self.nearest_seed.score,
                }
                if self.nearest_seed
                else None
            ),
            "run_url": self.run_url,
            "created_at": _iso(self.created_at),
            "items": [i.to_payload() for i in self.items],
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> AlertContent:
        """Rebuild content from `to_payload()` output; ValueError names a bad or missing field."""
        return _from_payload(data, "payload")


def _iso(dt: datetime) -> str:
    """ISO 8601 UTC to the second, `Z`-suffixed: how every newsmon output writes a time."""
    return _as_utc(dt).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _field(data: dict[str, Any], key: str, where: str, types: Any, *, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise ValueError(f"alert {where}: required field {key!r} is missing")
        return default
    value = data[key]
    if not isinstance(value, types):
        raise ValueError(
            f"alert {where}: field {key!r} has type {type(value).__name__}, expected "
            f"{' or '.join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))}"
        )
    return value


def _parse_dt(value: str | None, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"alert {where}: not an ISO 8601 datetime: {value!r}") from None


def _from_payload(data: dict[str, Any], where: str) -> AlertContent:
    if not isinstance(data, dict):
        raise ValueError(f"alert {where}: expected a JSON object, got {type(data).__name__}")
    kind = _field(data, "kind", where, str)
    if kind not in get_args(AlertKind):
        raise ValueError(
            f"alert {where}: field 'kind' must be one of {', '.join(get_args(AlertKind))}; "
            f"got {kind!r}"
        )
    topics = [
        TopicHit(
            topic=_field(t, "topic", f"{where}.topics[{n}]", str),
            terms=tuple(_field(t, "terms", f"{where}.topics[{n}]", list)),
            evidence=tuple(_field(t, "evidence", f"{where}.topics[{n}]", list)),
        )
        for n, t in enumerate(_field(data, "topics", where, list, default=[]))
    ]
    sources = [
        SourceLink(
            title=_field(s, "title", f"{where}.sources[{n}]", str),
            url=_field(s, "url", f"{where}.sources[{n}]", str),
            outlet=_field(s, "outlet", f"{where}.sources[{n}]", str),
            published=_parse_dt(
                _field(s, "published", f"{where}.sources[{n}]", (str, type(None)), default=None),
                f"{where}.sources[{n}].published",
            ),
        )
        for n, s in enumerate(_field(data, "sources", where, list, default=[]))
    ]
    seed_data = _field(data, "nearest_seed", where, (dict, type(None)), default=None)
    seed = (
        SeedRef(
            seed_id=_field(seed_data, "seed_id", f"{where}.nearest_seed", str),
            title=_field(seed_data, "title", f"{where}.nearest_seed", str),
            score=float(_field(seed_data, "score", f"{where}.nearest_seed", (int, float))),
        )
        if seed_data is not None
        else None
    )
    created = _parse_dt(_field(data, "created_at", where, str), f"{where}.created_at")
    assert created is not None
    return AlertContent(
        monitor=_field(data, "monitor", where, str),
        kind=kind,
        headline=_field(data, "headline", where, str),
        summary=_field(data, "summary", where, str, default=""),
        development_id=_field(data, "development_id", where, (int, type(None)), default=None),
        topics=topics,
        actors=[str(a) for a in _field(data, "actors", where, list, default=[])],
        sources=sources,
        nearest_seed=seed,
        run_url=_field(data, "run_url", where, (str, type(None)), default=None),
        created_at=created,
        items=[
            _from_payload(i, f"{where}.items[{n}]")
            for n, i in enumerate(_field(data, "items", where, list, default=[]))
        ],
    )
