"""Whether a lock is held elsewhere, as `flows.crashes` asks of another shard's lock."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from storage.locks import SerialSections, lock_held, monitor_lock, shard_lock_name


def test_lock_held_sees_a_held_lock_and_takes_nothing(engine: Engine) -> None:
    name = shard_lock_name("mon", "2/2")
    assert name == "mon#2/2"
    assert not lock_held(engine, name)
    with monitor_lock(engine, name, timeout=1):
        assert lock_held(engine, name)
        assert not lock_held(engine, shard_lock_name("mon", "1/2"))  # another shard's lock
        assert not lock_held(engine, "mon")  # the monitor's own lock is another lock
    assert not lock_held(engine, name)  # the try released what it took
    with monitor_lock(engine, name, timeout=1) as waited:
        assert waited < 1


def test_serial_sections_hold_the_monitor_lock_only_inside(engine: Engine) -> None:
    serial = SerialSections(engine, "mon", timeout=1)
    with serial():
        assert lock_held(engine, "mon")
    assert not lock_held(engine, "mon")
    with serial():
        assert lock_held(engine, "mon")
    assert serial.waited < 1
