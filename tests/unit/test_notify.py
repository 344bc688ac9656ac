"""sd_notify datagrams on a real AF_UNIX socket, the watchdog loop, and the journal field mapping."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import trio
import trio.testing

from gd2.daemon import logsetup, notify


def _drain(sock: socket.socket) -> list[str]:
    sock.setblocking(False)
    got = []
    while True:
        try:
            got.append(sock.recv(4096).decode())
        except BlockingIOError:
            return got


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's, named by NOTIFY_SOCKET as systemd would."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "abstract":
        name = f"gd2-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    else:
        sock.bind(str(tmp_path / "notify"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    with sock:
        yield sock


def test_states_arrive_as_datagrams(notify_socket: socket.socket) -> None:
    notify.notify("READY=1")
    notify.status("serving  3 volumes,\n12 bricks online")
    notify.notify("WATCHDOG=1")
    notify.notify("STOPPING=1")
    assert _drain(notify_socket) == ["READY=1", "STATUS=serving 3 volumes, 12 bricks online", "WATCHDOG=1",
                                     "STOPPING=1"]


def test_unknown_state_is_a_programming_error(notify_socket: socket.socket) -> None:
    with pytest.raises(ValueError, match="BOGUS"):
        notify.notify("BOGUS=1")
    assert _drain(notify_socket) == []


def test_nothing_sent_or_logged_without_notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, structlog.testing.capture_logs() as logs:
        sock.bind(str(tmp_path / "notify"))
        notify.notify("READY=1")
        notify.status("starting")
        notify.notify("WATCHDOG=1")
        notify.notify("STOPPING=1")
        assert _drain(sock) == []
    assert notify.watchdog_interval() is None
    assert logs == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_unreachable_socket_is_a_warning_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    with structlog.testing.capture_logs() as logs:
        notify.notify("READY=1")
    assert [(e["log_level"], e["state"]) for e in logs] == [("warning", "READY")]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"}
    assert notify.watchdog_interval(env) == 15.0
    assert notify.watchdog_interval({**env, "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert notify.watchdog_interval({**env, "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert notify.watchdog_interval({**env, "WATCHDOG_USEC": "0"}) is None
    assert notify.watchdog_interval({**env, "WATCHDOG_USEC": "soon"}) is None
    assert notify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) is None
    assert notify.watchdog_interval({"NOTIFY_SOCKET": "/run/systemd/notify"}) is None


async def test_watchdog_loop_pings_at_half_the_interval(notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch,
                                                        autojump_clock: trio.testing.MockClock) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")  # pings every second
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(notify.watchdog_loop)
        await trio.sleep(3.5)
        nursery.cancel_scope.cancel()
    assert trio.current_time() - start == pytest.approx(3.5)
    assert _drain(notify_socket) == ["WATCHDOG=1"] * 4  # at 0, 1, 2 and 3 s


async def test_watchdog_loop_returns_without_a_watchdog(notify_socket: socket.socket,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(notify.watchdog_loop)
    assert _drain(notify_socket) == []


# --- journald ------------------------------------------------------------------------------------------

def test_structlog_keys_become_upper_case_journal_fields() -> None:
    fields = logsetup.journal_fields(
        {"event": "brick started", "level": "warning", "timestamp": "2026-11-23T22:00:00Z",
         "reqid": "r-1", "txnid": "t-9", "step": "vol-start.StartBricks", "volume": "gv0",
         "brick": "node1:/b/1", "port": 49152, "pid": None, "message": "clash", "brick-path": "/b/1",
         "_private": "x", "9lives": 1},
        "gd2.bricks")
    assert fields == {
        "MESSAGE": "brick started", "PRIORITY": "4", "SYSLOG_IDENTIFIER": "glusterd2", "LOGGER": "gd2.bricks",
        "REQID": "r-1", "TXNID": "t-9", "STEP": "vol-start.StartBricks", "VOLUME": "gv0",
        "BRICK": "node1:/b/1", "PORT": "49152", "GD2_MESSAGE": "clash", "BRICK_PATH": "/b/1",
        "PRIVATE": "x", "GD2_9LIVES": "1",
    }


@pytest.mark.parametrize(("level", "priority"), [("debug", "7"), ("info", "6"), ("warning", "4"),
                                                  ("error", "3"), ("critical", "2"), ("exception", "3")])
def test_levels_map_to_syslog_priorities(level: str, priority: str) -> None:
    assert logsetup.journal_fields({"event": "x", "level": level})["PRIORITY"] == priority


def test_journal_field_names_are_valid() -> None:
    for key in ("a" * 100, "_x", "x.y", "ß", "PRIORITY", "level"):
        name = logsetup.journal_field_name(key)
        assert len(name) <= 64 and name[0].isalpha() and all(c.isupper() or c.isdigit() or c == "_" for c in name)


def test_stderr_is_journal_only_for_the_stream_systemd_gave_us(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "w") as ours, open(tmp_path / "other", "w") as other:
        st = os.fstat(ours.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert logsetup.stderr_is_journal(env, ours)
        assert not logsetup.stderr_is_journal(env, other)  # inherited by a child with another stderr
        assert not logsetup.stderr_is_journal({}, ours)
        assert not logsetup.stderr_is_journal({"JOURNAL_STREAM": "garbage"}, ours)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_journal_target_sends_structured_fields(monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    import cysystemd.journal

    sent: list[dict[str, object]] = []
    monkeypatch.setattr(cysystemd.journal, "send", lambda **fields: sent.append(fields))
    logsetup.configure_logging("info", "console", target="journal")
    with structlog.contextvars.bound_contextvars(txnid="t-1"):
        structlog.get_logger("gd2.test").info("volume started", volume="gv0")
        structlog.get_logger("gd2.test").debug("filtered out")
    assert sent == [{"TXNID": "t-1", "VOLUME": "gv0", "MESSAGE": "volume started", "PRIORITY": "6",
                     "SYSLOG_IDENTIFIER": "glusterd2", "LOGGER": "gd2.test"}]
    assert type(logging.getLogger().handlers[0]).__name__ == "JournaldLogHandler"


def test_stderr_target_when_not_under_systemd(monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    logsetup.configure_logging("info", "json", target="auto")
    assert isinstance(logging.getLogger().handlers[0], logging.StreamHandler)
    with pytest.raises(ValueError, match="log target"):
        logsetup.configure_logging("info", "json", target="syslog")
