"""gd2ctl events: the command grammar, and `events watch` reading a stream from a fake glusterd2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gd2.cli.commands import plan
from gd2.cli.errors import UsageError
from gd2.cli.main import main, parse_args

EVENT = {"id": "000660fbe80cbd51-c9aa30e8-000001", "time": "2024-01-01T00:00:00.000Z", "kind": "volume.create",
         "node": {"id": "c9aa30e8", "name": "node1"}, "volume": "gv0", "message": "volume gv0 created"}


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class StreamingServer:
    """Answers one request on a Unix socket with ``head`` and then ``chunks``, one by one, then closes."""

    def __init__(self, path: Path, head: bytes, chunks: list[bytes]) -> None:
        self.path = path
        self.head = head
        self.chunks = chunks
        self.request = b""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn:
            while b"\r\n\r\n" not in self.request:
                self.request += conn.recv(65536)
            conn.sendall(self.head)
            for chunk in self.chunks:
                conn.sendall(chunk)

    def close(self) -> None:
        self._thread.join(10)
        self._sock.close()


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "gd2.sock"


def _watch(capsys: pytest.CaptureFixture[str], server: StreamingServer, *argv: str) -> tuple[int, str, str]:
    code = main(["--socket", str(server.path), *argv], {})
    server.close()
    out, err = capsys.readouterr()
    return code, out, err


OK_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n")


def test_watch_prints_each_event_skips_heartbeats_and_reports_the_end(
        sock_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.dumps(EVENT).encode() + b"\n"
    # An event split across chunks, a heartbeat, a second event; then the daemon goes away.
    server = StreamingServer(sock_path, OK_HEAD, [_chunk(line[:10]), _chunk(line[10:]), _chunk(b"\n"),
                                                  _chunk(line.replace(b"gv0", b"gv1"))])
    code, out, err = _watch(capsys, server, "events", "watch")
    assert code == 1 and "ended the event stream" in err
    lines = out.splitlines()
    assert len(lines) == 2
    assert "volume.create" in lines[0] and "node1" in lines[0] and "volume gv0 created" in lines[0]
    assert "volume gv1 created" in lines[1]
    assert server.request.startswith(b"GET /v1/events/stream HTTP/1.1\r\n")


def test_watch_json_prints_the_lines_and_passes_since(sock_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = json.dumps(EVENT).encode() + b"\n"
    server = StreamingServer(sock_path, OK_HEAD, [_chunk(line), b"0\r\n\r\n"])
    code, out, _ = _watch(capsys, server, "--json", "events", "watch", "--since", EVENT["id"])
    assert code == 1
    assert [json.loads(x) for x in out.splitlines()] == [EVENT]
    assert server.request.startswith(f"GET /v1/events/stream?since={EVENT['id']} HTTP/1.1".encode())


def test_watch_shows_the_api_error(sock_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = json.dumps({"error": {"code": "invalid", "message": "since='x' is not an event id",
                                 "fields": {"since": "x"}}}).encode()
    head = f"HTTP/1.1 422 Unprocessable\r\ncontent-length: {len(body)}\r\n\r\n".encode()
    server = StreamingServer(sock_path, head + body, [])
    code, out, err = _watch(capsys, server, "events", "watch", "--since", "x")
    assert code == 1 and out == ""
    assert err.strip() == "gd2ctl: since='x' is not an event id"


def test_event_commands_map_to_one_request_each() -> None:
    listed = plan(["events", "list", "--since", "a b", "--limit=5"])
    assert (listed.method, listed.path) == ("GET", "/v1/events?since=a%20b&limit=5")
    assert plan(["events", "list"]).path == "/v1/events"
    watch = plan(["events", "watch"])
    assert watch.stream and watch.path == "/v1/events/stream"
    add = plan(["events", "webhook-add", "http://h/x", "--secret", "s"])
    assert (add.method, add.path, add.body) == ("POST", "/v1/events/webhooks", {"url": "http://h/x", "secret": "s"})
    assert plan(["events", "webhook-add", "http://h/x"]).body == {"url": "http://h/x"}
    delete = plan(["events", "webhook-delete", "http://h:1/x"])
    assert (delete.method, delete.path) == ("DELETE", "/v1/events/webhooks/http%3A%2F%2Fh%3A1%2Fx")
    assert plan(["events", "webhook-list"]).path == "/v1/events/webhooks"
    opts, words = parse_args(["events", "webhook-add", "--json", "http://h/x", "--secret=s"])
    assert opts.json and words == ["events", "webhook-add", "http://h/x", "--secret=s"]


@pytest.mark.parametrize("words", [["events"], ["events", "tail"], ["events", "list", "x"],
                                   ["events", "list", "--limit", "0"], ["events", "list", "--secret", "s"],
                                   ["events", "webhook-add"], ["events", "webhook-add", "u", "--since", "x"],
                                   ["events", "webhook-delete"], ["events", "webhook-list", "x"],
                                   ["events", "watch", "now"], ["events", "list", "--since"]])
def test_event_command_usage_errors(words: list[str]) -> None:
    with pytest.raises(UsageError):
        plan(words)


def test_gd2ctl_stays_light() -> None:
    code = ("import sys, gd2.cli.main, gd2.cli.events; "
            "print(','.join(m for m in ('pydantic', 'httpx', 'trio', 'fastapi', 'structlog') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
