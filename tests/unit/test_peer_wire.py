"""The peer protocol's encoding (gd2.peer._wire) without a network: round trips, errors as data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gd2.errors import BrickError, Conflict, GD2Error
from gd2.peer import HelloReply, HelloRequest, JoinRequest, RemoteError, StepReply, StepRequest, _wire


def test_requests_and_replies_round_trip() -> None:
    hello = HelloReply(peer_id="p1", name="n1", addresses=("10.0.0.1", "10.0.0.2"), cluster_id="c1", empty=True,
                       csr=b"-----BEGIN CERTIFICATE REQUEST-----\n")
    assert _wire.decode_hello_reply(_wire.encode_hello_reply(hello)) == hello
    assert _wire.decode_hello_request(_wire.encode_hello_request(HelloRequest(want_csr=True))) == HelloRequest(True)
    join = JoinRequest("c1", b"ca", b"cert", ("https://10.0.0.1:2379",), extra=b"\x80")
    assert _wire.decode_join_request(_wire.encode_join_request(join)) == join
    step = StepRequest(txn_id="t", reqid="r", step="vol-create.PrepareBricks", undo=True, args=b"\x91\x01")
    assert _wire.decode_step_request(_wire.encode_step_request(step)) == step
    assert _wire.decode_step_reply(_wire.encode_step_reply(StepReply(b"\xc0"))) == StepReply(b"\xc0")


def test_an_error_reply_raises_the_same_error() -> None:
    data = _wire.error_reply(_wire.RUN_STEP, BrickError("brick path /b1 is already in use", {"brick": "/b1"}))
    with pytest.raises(BrickError) as raised:
        _wire.decode_step_reply(data)
    assert (raised.value.code, raised.value.message, raised.value.fields) == (
        "brick_failed", "brick path /b1 is already in use", {"brick": "/b1"})
    with pytest.raises(Conflict, match="not empty"):
        _wire.decode_join_reply(_wire.error_reply(_wire.JOIN, Conflict("not empty")))


def test_an_unknown_code_keeps_its_code() -> None:
    class Odd(GD2Error):
        code = "daemon_failed"

    with pytest.raises(RemoteError) as raised:
        _wire.decode_hello_reply(_wire.error_reply(_wire.HELLO, Odd("glusterfsd died")))
    assert raised.value.code == "daemon_failed" and str(raised.value) == "glusterfsd died"


def test_malformed_bytes_are_reported() -> None:
    with pytest.raises(_wire.MalformedMessage, match=r"gd2\.peer\.v1\.StepRequest"):
        _wire.decode_step_request(b"\xff\xff\xff")


def test_the_generated_module_imports_without_warnings() -> None:
    # A fresh interpreter, so an import-time warning (e.g. protobuf's gencode/runtime check) cannot hide.
    # From "/", not the checkout: the source tree has no generated module, the installed package has.
    subprocess.run([sys.executable, "-W", "error", "-c", "import gd2.peer._proto.peer_pb2"], check=True, timeout=60,
                   cwd="/")
