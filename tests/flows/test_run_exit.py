"""`newsmon run` exit statuses: loud failures, and validation before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.cli import main
from flows.verdict import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_PARTIAL
from tests.support.faults import unaccepting_port
from tests.support.httpserver import LocalHTTPServer, Response
from tests.support.newsfixture import serve_feed, serve_sample

REPO = Path(__file__).resolve().parents[2]
UNRELATED = ("guardian", "0952f64a7765")  # UK ticket resellers: stored, no alert


def monitor_file(tmp_path: Path, feeds: dict[str, str], **extra: object) -> Path:
    data = {
        "name": "exit-test",
        "seeds": str(REPO / "seeds"),
        "data_dir": str(tmp_path / "data"),
        "feeds": [{"name": n, "url": u} for n, u in feeds.items()],
        "channels": {"outbox": True},
        "fetch": {"allow_networks": ["127.0.0.1/32"], "connect_timeout": 2, "total_timeout": 5},
        **extra,
    }
    p = tmp_path / "monitor.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def test_every_feed_failed_exits_1_some_failed_exits_5_none_failed_exits_0(
    tmp_path: Path, site: LocalHTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    site.route("/down.xml", Response(503, b"down"))
    ok = serve_feed(site, "/ok.xml", [serve_sample(site, *UNRELATED)])
    down = site.url("/down.xml")

    assert main(["run", "--monitor", str(monitor_file(tmp_path, {"d1": down, "d2": down}))]) == (
        EXIT_FAILED
    )
    err = capsys.readouterr().err
    assert "every due feed failed (2 of 2: d1, d2)" in err and "(exit 1)" in err

    assert main(["run", "--monitor", str(monitor_file(tmp_path, {"ok": ok, "d1": down}))]) == (
        EXIT_PARTIAL
    )
    out, err = capsys.readouterr()
    assert "FEED FAILED        d1" in out
    assert "1 of 2 due feeds failed (d1)" in err and "(exit 5)" in err

    assert main(["run", "--monitor", str(monitor_file(tmp_path, {"ok": ok}))]) == EXIT_OK
    assert "(exit" not in capsys.readouterr().err


def test_missing_seeds_folder_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = monitor_file(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, seeds="no-such-seeds")

    assert main(["run", "--monitor", str(path)]) == EXIT_INVALID

    err = capsys.readouterr().err
    assert f"{path}: invalid monitor configuration" in err
    assert "no-such-seeds" in err and "does not exist" in err
    assert "nothing was fetched or written" in err
    assert not (tmp_path / "data").exists()  # no database, no outbox


def test_unreachable_database_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with unaccepting_port() as port:
        url = f"postgresql+psycopg://newsmon@127.0.0.1:{port}/newsmon"
        path = monitor_file(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, database_url=url)
        assert main(["run", "--monitor", str(path)]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}/newsmon is not reachable" in err
    assert "database_url / NEWSMON_DATABASE_URL" in err
    assert not (tmp_path / "data").exists()


def test_sqlite_file_in_an_unwritable_place_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker / 'sub' / 'newsmon.db'}"
    path = monitor_file(tmp_path, {"a": "http://127.0.0.1:9/a.xml"}, database_url=url)

    assert main(["run", "--monitor", str(path)]) == EXIT_INVALID

    err = capsys.readouterr().err
    assert "cannot create the SQLite file" in err and "is not a writable folder" in err
    assert blocker.read_text() == "not a folder"
