"""Repository functions on a fresh database, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitors.clock import utcnow
from storage import repo_alerts, repo_feeds
from storage import repository as repo
from storage.db import migrate
from storage.models import Alert, Article

REPO = Path(__file__).resolve().parents[2]


def _article(monitor: str, url: str, guid: str | None = None) -> Article:
    now = utcnow()
    return Article(
        monitor=monitor,
        url=url,
        guid=guid,
        link=url,
        title="t",
        content_hash="c",
        text_hash="h",
        first_seen_at=now,
        updated_at=now,
    )


def _alert(key: str, channel: str = "outbox") -> Alert:
    return Alert(
        monitor="m",
        channel=channel,
        kind="new_development",
        dedup_key=key,
        created_at=utcnow(),
        payload={"headline": key},
    )


def test_migrations_create_every_table_and_are_idempotent(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {
        "feed",
        "article",
        "articlesource",
        "articleversion",
        "topictag",
        "development",
        "alert",
        "deliveryattempt",
        "run",
        "seeddocument",
        "alembic_version",
    } <= tables
    migrate(engine)  # a second upgrade is a no-op
    assert set(inspect(engine).get_table_names()) == tables


def test_sync_feeds_creates_once_and_resets_state_on_url_change(engine: Engine) -> None:
    with Session(engine) as s:
        feeds = repo_feeds.sync_feeds(
            s, monitor="m", feeds=[("a", "http://x/a"), ("b", "http://x/b")]
        )
        assert [f.name for f in feeds] == ["a", "b"]
        a = feeds[0]
        a.etag, a.consecutive_failures, a.status = '"v1"', 2, "failing"
        repo_feeds.save_feed(s, feed=a)
        again = repo_feeds.sync_feeds(
            s, monitor="m", feeds=[("a", "http://x/a2"), ("b", "http://x/b")]
        )
        assert [f.id for f in again] == [f.id for f in feeds]
        a2 = repo_feeds.get_feed(s, monitor="m", name="a")
        assert (a2.url, a2.etag, a2.consecutive_failures, a2.status) == (
            "http://x/a2",
            None,
            0,
            "new",
        )
        assert len(repo_feeds.list_feeds(s, monitor="m")) == 2


def test_find_known_items_by_url_and_guid(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(_article("m", "https://a.example/1", guid="g-1"))
        s.add(_article("other", "https://a.example/2", guid="g-2"))
        s.commit()
        known = repo.find_known_items(
            s, monitor="m", urls=["https://a.example/1", "https://a.example/9"], guids=["g-2"]
        )
        assert set(known) == {"https://a.example/1", "guid:g-1"}
        by_guid = repo.find_known_items(s, monitor="m", urls=[], guids=["g-1"])
        assert by_guid["guid:g-1"].url == "https://a.example/1"


def test_alert_is_unique_per_development_channel_and_kind(engine: Engine) -> None:
    with Session(engine) as s:
        assert repo_alerts.add_alert(s, alert=_alert("dev:1")) is True
        assert repo_alerts.add_alert(s, alert=_alert("dev:1")) is False
        assert repo_alerts.add_alert(s, alert=_alert("dev:1", channel="slack")) is True
        s.commit()
        assert [(a.channel, a.dedup_key) for a in repo_alerts.list_alerts(s, monitor="m")] == [
            ("outbox", "dev:1"),
            ("slack", "dev:1"),
        ]


def test_claim_is_exclusive_and_expired_claims_are_reclaimed(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as s:
        repo_alerts.add_alert(s, alert=_alert("dev:1"))
        s.commit()
    with Session(engine) as s1, Session(engine) as s2:
        first = repo_alerts.claim_due_alerts(s1, monitor="m", now=now, lease=timedelta(minutes=10))
        s1.commit()  # the caller commits its claims before sending
        second = repo_alerts.claim_due_alerts(s2, monitor="m", now=now, lease=timedelta(minutes=10))
        s2.commit()
        assert [a.dedup_key for a in first] == ["dev:1"]
        assert second == []
        # the first run "died": after the lease the alert is claimable again
        later = now + timedelta(minutes=11)
        third = repo_alerts.claim_due_alerts(
            s2, monitor="m", now=later, lease=timedelta(minutes=10)
        )
        assert [a.dedup_key for a in third] == ["dev:1"]


def test_attempts_move_alert_to_retry_sent_or_dead(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as s:
        repo_alerts.add_alert(s, alert=_alert("dev:1"))
        repo_alerts.add_alert(s, alert=_alert("dev:2"))
        s.commit()
        a1, a2 = repo_alerts.claim_due_alerts(s, monitor="m", now=now, lease=timedelta(minutes=5))
        repo_alerts.record_attempt(
            s,
            alert=a1,
            outcome="transient",
            detail="503",
            now=now,
            next_attempt_at=now + timedelta(minutes=1),
        )
        repo_alerts.record_attempt(
            s, alert=a2, outcome="permanent", detail="404 no_service", now=now
        )
        assert (
            repo_alerts.claim_due_alerts(s, monitor="m", now=now, lease=timedelta(minutes=5)) == []
        )
        retry = repo_alerts.claim_due_alerts(
            s, monitor="m", now=now + timedelta(minutes=2), lease=timedelta(minutes=5)
        )
        assert [a.dedup_key for a in retry] == ["dev:1"]
        repo_alerts.record_attempt(s, alert=retry[0], outcome="sent", detail="ok", now=now)
        statuses = {
            a.dedup_key: (a.status, a.attempts) for a in repo_alerts.list_alerts(s, monitor="m")
        }
        assert statuses == {"dev:1": ("sent", 2), "dev:2": ("dead", 1)}
        assert [t.outcome for t in repo_alerts.attempts_of(s, alert_id=a1.id or 0)] == [
            "transient",
            "sent",
        ]
        assert repo_alerts.requeue_dead_alerts(s, monitor="m") == 1
        assert repo_alerts.list_alerts(s, monitor="m", status="pending")[0].dedup_key == "dev:2"


def test_seed_development_is_created_once(engine: Engine) -> None:
    with Session(engine) as s:
        d1 = repo.ensure_seed_development(
            s, monitor="m", seed_id="003", title="Lavrov", topics=["visits"]
        )
        d2 = repo.ensure_seed_development(
            s, monitor="m", seed_id="003", title="Lavrov", topics=["visits"]
        )
        assert d1.id == d2.id
        assert d1.status == "known"
        assert [d.seed_ref for d in repo.list_developments(s, monitor="m", status="known")] == [
            "003"
        ]


def test_migrations_upgrade_from_the_previous_revision_and_back(db_url: str) -> None:
    from storage.db import make_engine

    engine = make_engine(db_url)
    migrate(engine, "0001")
    cols = {c["name"] for c in inspect(engine).get_columns("feed")}
    assert "typical_gap_seconds" not in cols
    with Session(engine) as s:  # data written by the previous schema survives the upgrade
        from sqlalchemy import text

        s.execute(
            text(
                "INSERT INTO feed (monitor, name, url, polls_since_full, poll_count, "
                "consecutive_failures, status, health_alert_open, health_episode, "
                "possible_gaps) VALUES ('m', 'a', 'http://x/a', 0, 0, 0, 'ok', false, "
                "0, 0)"
            )
        )
        s.commit()
    migrate(engine, "head")
    assert "typical_gap_seconds" in {c["name"] for c in inspect(engine).get_columns("feed")}
    with Session(engine) as s:
        assert [f.name for f in repo_feeds.list_feeds(s, monitor="m")] == ["a"]
    from alembic import command

    from storage.db import alembic_config

    with engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "typical_gap_seconds" not in {c["name"] for c in inspect(engine).get_columns("feed")}
    engine.dispose()


MIGRATE_ONCE = """
import sys
from storage.db import make_engine, migrate
engine = make_engine(sys.argv[1])
migrate(engine)
engine.dispose()
"""


def test_concurrent_first_migrations_on_postgres_do_not_collide(postgres_url: str) -> None:
    """Workers starting together on an empty shared database (alembic's state is per process,
    so the race is between processes)."""
    import subprocess
    import sys

    from storage.db import make_engine

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_ONCE, postgres_url],
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0, 0], [err[-500:] for _, err in results]
    engine = make_engine(postgres_url)
    assert "alert" in set(inspect(engine).get_table_names())
    engine.dispose()


def test_repository_writes_stay_in_the_callers_transaction(engine: Engine) -> None:
    with Session(engine) as s:
        repo_feeds.start_run(s, monitor="m", flow_run_id=None)
        repo_feeds.sync_feeds(s, monitor="m", feeds=[("a", "http://x/a")])
        repo.sync_seeds(
            s,
            monitor="m",
            seeds=[
                {
                    "seed_id": "003",
                    "title": "Lavrov",
                    "text": "Lavrov.",
                    "text_hash": "h",
                    "topics": [],
                }
            ],
        )
        repo.ensure_seed_development(s, monitor="m", seed_id="003", title="Lavrov", topics=[])
        repo_alerts.add_alert(s, alert=_alert("dev:1"))
        s.rollback()  # the caller decides: nothing of it was committed
    with Session(engine) as s:
        assert repo_feeds.list_runs(s, monitor="m") == []
        assert repo_feeds.list_feeds(s, monitor="m") == []
        assert repo.list_seeds(s, monitor="m") == []
        assert repo.list_developments(s, monitor="m") == []
        assert repo_alerts.list_alerts(s, monitor="m") == []
