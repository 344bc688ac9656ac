"""The REST API: auth on TCP, the socket's mode, one error shape, bad input changing nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import ssl
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import trio

from gd2.peer.pki import create_ca
from gd2.testing import DaemonProcess, http_over_unix


def _tcp(gd2: DaemonProcess, path: str, token: str | None) -> tuple[int, Any]:
    """A request over TCP: https, verified against the pool's CA."""
    request = urllib.request.Request(f"https://{gd2.address}:{gd2.rest_port}{path}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=str(gd2.statedir / "tls" / "ca.pem"))
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def _token(gd2: DaemonProcess) -> str:
    secret = (gd2.statedir / "auth").read_bytes().strip()
    return hmac.new(secret, b"gd2-rest-token-v1", hashlib.sha256).hexdigest()


def test_tcp_needs_the_bearer_token(gd2: DaemonProcess) -> None:
    assert stat.S_IMODE((gd2.statedir / "auth").stat().st_mode) == 0o600
    right = _token(gd2)
    almost = right[:-1] + ("1" if right.endswith("0") else "0")  # one hex digit off (never the token itself)
    for token in (None, "wrong", almost):
        status, body = _tcp(gd2, "/v1/volumes", token)
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
    assert _tcp(gd2, "/v1/volumes", right) == (200, {"volumes": []})


def test_gd2ctl_over_tcp_with_the_secret_file(gd2: DaemonProcess) -> None:
    endpoint = f"https://{gd2.address}:{gd2.rest_port}"
    ca = ("--ca-file", str(gd2.statedir / "tls" / "ca.pem"))
    ok = gd2.ctl("--endpoint", endpoint, *ca, "--secret-file", str(gd2.statedir / "auth"), "volume", "list")
    assert ok.returncode == 0, ok.stderr
    refused = gd2.ctl("--endpoint", endpoint, *ca, "--token", "nope", "volume", "list")
    assert refused.returncode == 1 and "unauthorized" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_tcp_is_https_with_a_certificate_from_the_pool_ca(gd2: DaemonProcess, tmp_path: Path) -> None:
    secret = ("--secret-file", str(gd2.statedir / "auth"))
    plain = gd2.ctl("--endpoint", f"http://{gd2.address}:{gd2.rest_port}", *secret, "volume", "list")
    assert plain.returncode == 1 and len(plain.stderr.strip().splitlines()) == 1
    stranger_ca = tmp_path / "other-ca.pem"
    stranger_ca.write_bytes(create_ca("another-pool").cert)
    untrusted = gd2.ctl("--endpoint", f"https://{gd2.address}:{gd2.rest_port}", "--ca-file", str(stranger_ca),
                        *secret, "volume", "list")
    assert untrusted.returncode == 1 and "not trusted" in untrusted.stderr and "--ca-file" in untrusted.stderr
    trusted = gd2.ctl("--endpoint", f"https://{gd2.address}:{gd2.rest_port}", *secret, "volume", "list",
                      env={"GD2_CA_FILE": str(gd2.statedir / "tls" / "ca.pem")})
    assert trusted.returncode == 0, trusted.stderr


def test_unix_socket_is_root_only_and_needs_no_token(gd2: DaemonProcess) -> None:
    assert stat.S_IMODE(gd2.socket_path.stat().st_mode) == 0o600
    status, body = gd2.api("GET", "/version")
    assert status == 200 and body["api"] == "v1"
    status, body = gd2.api("GET", "/openapi.json")
    assert status == 200 and "/v1/volumes" in body["paths"]
    create = body["paths"]["/v1/volumes"]["post"]
    assert "VolumeCreateRequest" in json.dumps(create["requestBody"])


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("wrong type", {"name": "v", "bricks": ["{a}:{root}/x"], "replica": "2"}, "replica"),
    ("unknown field", {"name": "v", "bricks": ["{a}:{root}/x"], "stripe": 2}, "stripe"),
    ("slash in name", {"name": "a/b", "bricks": ["{a}:{root}/x"]}, "name"),
    ("space in name", {"name": "a b", "bricks": ["{a}:{root}/x"]}, "name"),
    ("duplicate bricks", {"name": "v", "bricks": ["{a}:{root}/x", "{a}:{root}/x"]}, "bricks"),
    ("brick in brick", {"name": "v", "bricks": ["{a}:{root}/x", "{a}:{root}/x/y"]}, "bricks"),
    ("relative path", {"name": "v", "bricks": ["{a}:x"]}, "bricks"),
    ("host not in pool", {"name": "v", "bricks": ["192.0.2.1:{root}/x"]}, "bricks"),
    ("replica count", {"name": "v", "bricks": ["{a}:{root}/x", "{a}:{root}/y", "{a}:{root}/z"],
                       "replica": 2, "force": True}, "bricks"),
    ("disperse 2R >= N", {"name": "v", "bricks": ["{a}:{root}/x", "{a}:{root}/y", "{a}:{root}/z", "{a}:{root}/w"],
                          "disperse": 4, "redundancy": 2, "force": True}, "redundancy"),
    ("arbiter without replica 3", {"name": "v", "bricks": ["{a}:{root}/x", "{a}:{root}/y"], "replica": 2,
                                   "arbiter": 1, "force": True}, "arbiter"),
    ("no bricks", {"name": "v", "bricks": []}, "bricks"),
]


@pytest.mark.parametrize(("what", "body", "field"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_create_is_refused_and_changes_nothing(
    gd2: DaemonProcess, brick_fs: Path, what: str, body: dict[str, Any], field: str
) -> None:
    body = json.loads(json.dumps(body).replace("{a}", gd2.address).replace("{root}", str(brick_fs)))
    status, reply = gd2.api("POST", "/v1/volumes", body)
    assert status in (409, 422), (what, status, reply)
    assert set(reply) == {"error"} and set(reply["error"]) == {"code", "message", "fields"}
    assert field in reply["error"]["fields"], reply
    assert gd2.api("GET", "/v1/volumes") == (200, {"volumes": []})
    assert list(brick_fs.iterdir()) == [], f"{what}: something was left on disk"
    status, dump = gd2.api("GET", "/v1/debug/store?prefix=volumes/")
    assert dump["entries"] == []


def test_malformed_json_gets_the_error_shape(gd2: DaemonProcess) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(gd2.socket_path))
        body = b'{"name": "v", "bricks": ['
        sock.sendall(b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 422")
    assert b'"code":"invalid"' in reply


def test_brick_already_used_by_another_volume(gd2: DaemonProcess, brick_fs: Path) -> None:
    first = {"name": "one", "bricks": [f"{gd2.address}:{brick_fs}/b"]}
    assert gd2.api("POST", "/v1/volumes", first)[0] == 201
    for bricks in ([f"{gd2.address}:{brick_fs}/b"], [f"{gd2.address}:{brick_fs}/b/inner"]):
        status, reply = gd2.api("POST", "/v1/volumes", {"name": "two", "bricks": bricks})
        assert status == 409, reply
    # A directory marked by a volume this pool does not know (glusterd1's, say) is refused too.
    foreign = brick_fs / "foreign"
    foreign.mkdir()
    os.setxattr(foreign, "trusted.glusterfs.volume-id", os.urandom(16))
    status, reply = gd2.api("POST", "/v1/volumes", {"name": "two", "bricks": [f"{gd2.address}:{foreign}/sub"]})
    assert status == 409 and "already part of a volume" in reply["error"]["message"]
    assert not (foreign / "sub").exists()
    assert [v["name"] for v in gd2.api("GET", "/v1/volumes")[1]["volumes"]] == ["one"]


async def test_concurrent_creates_of_one_name_exactly_one_wins(gd2: DaemonProcess, brick_fs: Path) -> None:
    results: list[tuple[int, Any]] = []

    async def create(i: int) -> None:
        body = {"name": "race", "bricks": [f"{gd2.address}:{brick_fs}/r{i}"]}
        results.append(await trio.to_thread.run_sync(http_over_unix, gd2.socket_path, "POST", "/v1/volumes",
                                                     body))

    async with trio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(create, i)
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 5, results
    [volume] = gd2.api("GET", "/v1/volumes")[1]["volumes"]
    winner = volume["bricks"][0]["path"]
    for i in range(6):
        path = brick_fs / f"r{i}"
        if str(path) == winner:
            assert "trusted.glusterfs.volume-id" in os.listxattr(path)
        else:
            assert not path.exists(), f"loser's brick {path} left behind"


async def test_concurrent_creates_on_the_same_brick(gd2: DaemonProcess, brick_fs: Path) -> None:
    results: list[int] = []

    async def create(i: int) -> None:
        body = {"name": f"same{i}", "bricks": [f"{gd2.address}:{brick_fs}/shared"]}
        status, _ = await trio.to_thread.run_sync(http_over_unix, gd2.socket_path, "POST", "/v1/volumes", body)
        results.append(status)

    async with trio.open_nursery() as nursery:
        for i in range(4):
            nursery.start_soon(create, i)
    assert sorted(results) == [201, 409, 409, 409]
    [volume] = gd2.api("GET", "/v1/volumes")[1]["volumes"]
    import uuid

    mark = os.getxattr(brick_fs / "shared", "trusted.glusterfs.volume-id")
    assert mark == uuid.UUID(volume["id"]).bytes


def test_delete_refuses_unknown_and_keeps_others(gd2: DaemonProcess, brick_fs: Path) -> None:
    assert gd2.api("POST", "/v1/volumes", {"name": "a", "bricks": [f"{gd2.address}:{brick_fs}/a"]})[0] == 201
    status, reply = gd2.api("DELETE", "/v1/volumes/nope")
    assert status == 404 and reply["error"]["code"] == "not_found"
    status, reply = gd2.api("DELETE", "/v1/volumes/a%2Fb")
    assert status in (404, 422)
    assert [v["name"] for v in gd2.api("GET", "/v1/volumes")[1]["volumes"]] == ["a"]
