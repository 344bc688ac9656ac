"""gd2.xdr RPC messages: agreement with the plain-Python reference, round trips, hostile input."""

from __future__ import annotations

import dataclasses
import importlib.util
import struct
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gd2.xdr import (
    LAST_FRAGMENT,
    CommonReply,
    DumpReply,
    DumpRequest,
    EventNotifyReply,
    EventNotifyRequest,
    GetspecReply,
    GetspecRequest,
    GetVolumeInfoReply,
    GetVolumeInfoRequest,
    PortByBrickReply,
    PortByBrickRequest,
    ProgDetail,
    RpcCall,
    RpcReply,
    SigninReply,
    SigninRequest,
    SignoutReply,
    SignoutRequest,
    XdrError,
    decode_call,
    decode_message,
    decode_reply,
    encode_call,
    encode_fetchspec_call,
    encode_message,
    encode_record,
    encode_reply,
    encode_success,
    make_dict,
    rpc,
)
from gd2.xdr.messages import encode_body


def _load_reference() -> ModuleType:
    # Tests are not a package (importlib import mode), so the reference is loaded by path.
    name = "gd2_tests_xdr_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("xdr_reference.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ref = _load_reference()

# ---- strategies ------------------------------------------------------------------------------------

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
u64 = st.integers(0, 2**64 - 1)
# Any bytes survive as str through surrogateescape, so draw text both ways.
text = st.one_of(st.text(max_size=20), st.binary(max_size=20).map(lambda b: b.decode("utf-8", "surrogateescape")))
keys = st.one_of(
    st.text(max_size=12).filter(lambda k: "\0" not in k),
    st.binary(max_size=12).filter(lambda b: b"\0" not in b).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
gfdicts = st.dictionaries(keys, st.binary(max_size=16), max_size=5)

requests = st.one_of(
    st.builds(DumpRequest, u64),
    st.builds(GetspecRequest, u32, text, gfdicts),
    st.builds(EventNotifyRequest, i32, gfdicts),
    st.builds(GetVolumeInfoRequest, gfdicts),
    st.builds(PortByBrickRequest, text),
    st.builds(SigninRequest, text, i32, i32),
    st.builds(SignoutRequest, text, i32, i32),
)
replies = st.one_of(
    st.builds(DumpReply, u64, i32, i32, st.lists(st.builds(ProgDetail, text, u64, u64), max_size=4).map(tuple)),
    st.builds(CommonReply, i32, i32, gfdicts),
    st.builds(GetspecReply, i32, i32, text, gfdicts),
    st.builds(EventNotifyReply, i32, i32, gfdicts),
    st.builds(GetVolumeInfoReply, i32, i32, text, gfdicts),
    st.builds(PortByBrickReply, i32, i32, i32, i32),
    st.builds(SigninReply, i32, i32),
    st.builds(SignoutReply, i32, i32),
)
messages = st.one_of(requests, replies)

# (prog, vers, proc) of each request type, as a client sends it.
PROCS: dict[type, tuple[int, int, int]] = {
    DumpRequest: (rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_DUMP),
    GetspecRequest: (rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_GETSPEC),
    EventNotifyRequest: (rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_EVENT_NOTIFY),
    GetVolumeInfoRequest: (rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_GET_VOLUME_INFO),
    PortByBrickRequest: (rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_PORTBYBRICK),
    SigninRequest: (rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_SIGNIN),
    SignoutRequest: (rpc.PORTMAP_PROGRAM, 1, rpc.PORTMAP_SIGNOUT),
}
VOID_PROCS = [
    (rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_NULL),
    (rpc.GF_DUMP_PROGRAM, 1, rpc.GF_DUMP_PING),
    (rpc.HANDSHAKE_PROGRAM, 2, 0),
    (rpc.PORTMAP_PROGRAM, 1, 0),
    (rpc.CALLBACK_PROGRAM, 1, rpc.CALLBACK_FETCHSPEC),
]
auth = st.tuples(
    st.sampled_from([rpc.AUTH_NONE, rpc.AUTH_UNIX, rpc.AUTH_GLUSTERFS, rpc.AUTH_GLUSTERFS_V2, rpc.AUTH_GLUSTERFS_V3]),
    st.binary(max_size=rpc.MAX_AUTH_BYTES),
)


@st.composite
def calls(draw: st.DrawFn) -> RpcCall:
    (cflavor, cred), (vflavor, verf) = draw(auth), draw(auth)
    kind = draw(st.integers(0, 2))
    args: Any
    if kind == 0:
        args = draw(requests)
        prog, vers, proc = PROCS[type(args)]
    elif kind == 1:
        args = None
        prog, vers, proc = draw(st.sampled_from(VOID_PROCS))
    else:  # a procedure the codec does not know: arguments stay raw
        args = draw(st.binary(max_size=24))
        prog, vers, proc = draw(st.tuples(u32, u32, u32).filter(lambda t: t not in ref.CALL_ARGS))
    return RpcCall(draw(u32), prog, vers, proc, args, cflavor, cred, vflavor, verf)


@st.composite
def rpc_replies(draw: st.DrawFn) -> tuple[RpcReply, Any]:
    """(reply, result type to decode it with)."""
    xid = draw(u32)
    kind = draw(st.integers(0, 6))
    if kind == 0:
        result = draw(replies)
        flavor, verf = draw(auth)
        return RpcReply(xid, result, verf_flavor=flavor, verf=verf), type(result)
    if kind == 1:
        return RpcReply(xid, None), None
    if kind == 2:
        return RpcReply(xid, draw(st.binary(max_size=16))), bytes
    if kind == 3:
        stat = draw(st.sampled_from([rpc.PROG_UNAVAIL, rpc.PROC_UNAVAIL, rpc.GARBAGE_ARGS, rpc.SYSTEM_ERR]))
        return RpcReply(xid, accept_stat=stat), draw(st.sampled_from([None, bytes, SigninReply]))
    if kind == 4:
        low, high = draw(u32), draw(u32)
        return RpcReply(xid, accept_stat=rpc.PROG_MISMATCH, mismatch_low=low, mismatch_high=high), SigninReply
    if kind == 5:
        low, high = draw(u32), draw(u32)
        return RpcReply(xid, reply_stat=rpc.MSG_DENIED, mismatch_low=low, mismatch_high=high), GetspecReply
    stat = draw(u32)
    return RpcReply(xid, reply_stat=rpc.MSG_DENIED, reject_stat=rpc.AUTH_ERROR, auth_stat=stat), None


# ---- agreement and round trips ------------------------------------------------------------------------


@given(messages)
def test_message_matches_reference_and_round_trips(message: Any) -> None:
    data = encode_message(message)
    packer = ref.Packer()
    ref.pack_body(packer, message)
    assert data == packer.getvalue()
    assert len(data) % 4 == 0
    assert decode_message(data, type(message)) == message
    assert ref.unpack_body(ref.Unpacker(data), type(message)) == message


@given(calls())
def test_call_matches_reference_and_round_trips(call: RpcCall) -> None:
    wire = encode_call(call)
    assert wire == ref.encode_call(call)
    assert int.from_bytes(wire[:4], "big") == LAST_FRAGMENT | (len(wire) - 4)
    assert decode_call(wire[4:]) == call == ref.decode_call(wire[4:])


@given(rpc_replies())
def test_reply_matches_reference_and_round_trips(case: tuple[RpcReply, Any]) -> None:
    reply, result_type = case
    wire = encode_reply(reply)
    assert wire == ref.encode_reply(reply)
    assert decode_reply(wire[4:], result_type) == reply == ref.decode_reply(wire[4:], result_type)


@given(replies, u32)
def test_encode_success_is_the_plain_success_reply(result: Any, xid: int) -> None:
    wire = encode_success(xid, result)
    assert wire == encode_reply(RpcReply(xid, result)) == ref.encode_success(xid, result)


def test_known_getspec_call_encoding() -> None:
    # The brick's GETSPEC of GLUSTER_PROTOCOL.md §5 (xdata in 10.3's wire order).
    xdata = make_dict({"max-op-version": 100000, "min-op-version": 1})
    call = RpcCall(2, rpc.HANDSHAKE_PROGRAM, 2, rpc.HANDSHAKE_GETSPEC, GetspecRequest(0, "gv0", xdata))
    dict_blob = (
        bytes.fromhex("00000002" "0000000e00000007") + b"max-op-version\0" + b"100000\0"
        + bytes.fromhex("0000000e00000002") + b"min-op-version\0" + b"1\0"
    )  # fmt: skip
    assert len(dict_blob) == 59
    payload = struct.pack(">10I", 2, 0, 2, 14398633, 2, 2, 0, 0, 0, 0)
    payload += struct.pack(">II", 0, 3) + b"gv0\0" + struct.pack(">I", 59) + dict_blob + b"\0"
    assert encode_call(call) == encode_record(payload)


def test_fetchspec_callback() -> None:
    wire = encode_fetchspec_call(77)
    assert wire == encode_record(struct.pack(">10I", 77, 0, 2, 52743234, 1, 1, 0, 0, 0, 0))
    assert decode_call(wire[4:]) == RpcCall(77, rpc.CALLBACK_PROGRAM, 1, 1, None)


def test_getspec_found_counts_bytes() -> None:
    reply = GetspecReply.found("volume é\n")
    assert reply.op_ret == len("volume é\n".encode()) == 10
    assert reply.op_errno == 0 and reply.xdata == {}


def test_wrong_rpc_version_reads_only_the_xid() -> None:
    wire = encode_call(RpcCall(9, rpc.PORTMAP_PROGRAM, 1, 1, PortByBrickRequest("/b"), rpcvers=3))
    call = decode_call(wire[4:])
    assert (call.xid, call.rpcvers, call.prog, call.proc) == (9, 3, 0, 0)
    assert call == ref.decode_call(wire[4:])


def test_large_and_many_item_messages() -> None:
    # Over the facade's default native buffers, and more slots than it starts with.
    spec = "x" * (3 << 20)
    reply = GetspecReply.found(spec, {f"key{i}": b"v" * (i % 7) for i in range(700)})
    wire = encode_success(1, reply)
    assert decode_reply(wire[4:], GetspecReply).result == reply
    dump = DumpReply(1, 0, 0, tuple(ProgDetail(f"p{i}", i, i) for i in range(300)))
    assert decode_message(encode_message(dump), DumpReply) == dump


def test_decoded_objects_are_ordinary_frozen_dataclasses() -> None:
    wire = encode_call(RpcCall(1, rpc.PORTMAP_PROGRAM, 1, 4, SigninRequest("/b", 49152, 7)))
    call = decode_call(wire[4:])
    assert type(call) is RpcCall and type(call.args) is SigninRequest
    assert hash(call) == hash(RpcCall(1, rpc.PORTMAP_PROGRAM, 1, 4, SigninRequest("/b", 49152, 7)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.xid = 2  # type: ignore[misc]
    assert dataclasses.replace(call, xid=2).xid == 2


def test_threads_do_not_share_native_buffers() -> None:
    failures: list[str] = []

    def work(n: int) -> None:
        for i in range(300):
            brick = f"/bricks/{n}/{i}" * (n + 1)
            call = RpcCall(i, rpc.PORTMAP_PROGRAM, 1, 1, PortByBrickRequest(brick))
            if decode_call(encode_call(call)[4:]) != call:
                failures.append(brick)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# ---- hostile input: XdrError (or args_error for call arguments), never a crash ----------------------


def _agree_on_call(data: bytes) -> None:
    try:
        expected = ref.decode_call(data)
    except ref.RefError:
        with pytest.raises(XdrError):
            decode_call(data)
        return
    got = decode_call(data)
    assert bool(got.args_error) == bool(expected.args_error)
    assert got == dataclasses.replace(expected, args_error=got.args_error)


def _agree_on_reply(data: bytes, result_type: Any) -> None:
    try:
        expected = ref.decode_reply(data, result_type)
    except ref.RefError:
        with pytest.raises(XdrError):
            decode_reply(data, result_type)
        return
    assert decode_reply(data, result_type) == expected


@given(calls(), st.data())
def test_truncated_call_like_reference(call: RpcCall, data: st.DataObject) -> None:
    payload = encode_call(call)[4:]
    cut = data.draw(st.integers(0, len(payload) - 1))
    _agree_on_call(payload[:cut])
    if call.args is not None and not isinstance(call.args, bytes):
        got = decode_call(payload[:cut]) if cut >= 40 + _padded(call.cred) + _padded(call.verf) else None
        assert got is None or got.args_error


def _padded(blob: bytes) -> int:
    return len(blob) + -len(blob) % 4


@given(rpc_replies(), st.data())
def test_truncated_reply_raises(case: tuple[RpcReply, Any], data: st.DataObject) -> None:
    reply, result_type = case
    payload = encode_reply(reply)[4:]
    cut = data.draw(st.integers(0, len(payload) - 1))
    if result_type is bytes and reply.success:
        return  # raw results have no length of their own: a shorter body is still a body
    with pytest.raises(XdrError):
        decode_reply(payload[:cut], result_type)


@given(calls(), st.binary(min_size=1, max_size=8))
def test_trailing_bytes_after_known_arguments(call: RpcCall, extra: bytes) -> None:
    payload = encode_call(call)[4:] + extra
    _agree_on_call(payload)
    if not isinstance(call.args, bytes):
        assert "unexpected bytes" in decode_call(payload).args_error


_header = st.tuples(
    u32, st.sampled_from([0, 0, 0, 1, 2]), st.sampled_from([2, 2, 2, 1]),
    st.sampled_from([rpc.GF_DUMP_PROGRAM, rpc.HANDSHAKE_PROGRAM, rpc.PORTMAP_PROGRAM, 1]),
    st.sampled_from([1, 2]), st.integers(0, 7),
)  # fmt: skip


@given(_header, st.binary(max_size=120))
def test_random_calls_like_reference(header: tuple[int, ...], tail: bytes) -> None:
    # A plausible header then random bytes (cred, verf, arguments); and pure random bytes.
    _agree_on_call(struct.pack(">6I", *header) + tail)
    _agree_on_call(tail)


@given(st.binary(max_size=120), st.sampled_from([None, bytes, GetspecReply, DumpReply, PortByBrickReply, CommonReply]))
def test_random_replies_like_reference(tail: bytes, result_type: Any) -> None:
    _agree_on_reply(tail, result_type)
    _agree_on_reply(struct.pack(">III", 5, 1, 0) + struct.pack(">II", 0, 0) + struct.pack(">I", 0) + tail, result_type)


@pytest.mark.parametrize("length", [401, 2**31, 2**32 - 1])
def test_oversized_credentials_raise(length: int) -> None:
    payload = struct.pack(">8I", 1, 0, 2, rpc.PORTMAP_PROGRAM, 1, 1, rpc.AUTH_GLUSTERFS_V2, length) + bytes(420)
    with pytest.raises(XdrError, match="over the maximum"):
        decode_call(payload)
    with pytest.raises(XdrError):
        encode_call(RpcCall(1, 2, 3, 4, None, cred=bytes(401)))


@pytest.mark.parametrize("length", [5, 2**31, 2**32 - 1])
def test_oversized_string_in_arguments(length: int) -> None:
    payload = struct.pack(">10I", 1, 0, 2, rpc.PORTMAP_PROGRAM, 1, 1, 0, 0, 0, 0) + struct.pack(">I", length) + b"abcd"
    call = decode_call(payload)
    assert call.args_error and call.args == payload[40:]


def _getspec_payload(dict_blob: bytes) -> bytes:
    head = struct.pack(">10I", 1, 0, 2, rpc.HANDSHAKE_PROGRAM, 2, 2, 0, 0, 0, 0)
    opaque = struct.pack(">I", len(dict_blob)) + dict_blob + bytes(-len(dict_blob) % 4)
    return head + struct.pack(">II", 0, 0) + opaque


@pytest.mark.parametrize(
    "blob",
    [
        b"\0\0\0",  # shorter than the count
        struct.pack(">I", 1),  # a pair announced, none there
        struct.pack(">I", 2**32 - 1) + bytes(9),  # a count the bytes cannot hold
        struct.pack(">III", 1, 2**32 - 1, 0) + b"k\0",  # key length past the end
        struct.pack(">III", 1, 1, 2**31) + b"k\0",  # value length past the end
        struct.pack(">III", 1, 1, 1) + b"kxv",  # key not NUL-terminated
        struct.pack(">III", 1, 2, 1) + b"k\0\0v",  # NUL inside the key
        struct.pack(">III", 1, 1, 1) + b"k\0v" + b"zz",  # bytes after the last pair
    ],
)
def test_malformed_dicts_are_garbage(blob: bytes) -> None:
    call = decode_call(_getspec_payload(blob))
    assert "dict" in call.args_error or "ends before" in call.args_error
    assert ref.decode_call(_getspec_payload(blob)).args_error


def test_empty_dict_forms() -> None:
    assert decode_call(_getspec_payload(b"")).args == GetspecRequest(0, "", {})
    assert decode_call(_getspec_payload(bytes(4))).args == GetspecRequest(0, "", {})


@pytest.mark.parametrize("flag", [2, 0x80000000])
def test_bad_bool_in_dump_list(flag: int) -> None:
    body = struct.pack(">QiiI", 0xCAED, 0, 0, flag)
    with pytest.raises(XdrError, match="bool"):
        decode_message(body, DumpReply)


def test_wrong_message_types_raise() -> None:
    call = encode_call(RpcCall(1, rpc.GF_DUMP_PROGRAM, 1, 2))[4:]
    reply = encode_success(1, CommonReply())[4:]
    with pytest.raises(XdrError, match="RPC message"):
        decode_call(reply)
    with pytest.raises(XdrError, match="RPC message"):
        decode_reply(call, CommonReply)
    for bad in (struct.pack(">III", 1, 1, 2), struct.pack(">IIIII", 1, 1, 0, 0, 0) + struct.pack(">I", 6),
                struct.pack(">IIII", 1, 1, 1, 2)):  # fmt: skip
        with pytest.raises(XdrError):
            decode_reply(bad, None)


@pytest.mark.parametrize(
    "build",
    [
        lambda: encode_message(PortByBrickReply(0, 0, 0, 2**31)),
        lambda: encode_message(SigninRequest("/b", "49152", 1)),  # type: ignore[arg-type]
        lambda: encode_message(SigninRequest(b"/b", 1, 1)),  # type: ignore[arg-type]
        lambda: encode_message(GetspecRequest(-1, "k")),
        lambda: encode_message(GetspecRequest(0, "k", {"a\0b": b"v"})),
        lambda: encode_message(GetspecRequest(0, "k", {"a": "v"})),  # type: ignore[dict-item]
        lambda: encode_message(GetspecRequest(0, "\ud800")),
        lambda: encode_message(DumpRequest(-1)),
        lambda: encode_message(DumpRequest(2**64)),
        lambda: encode_message(ProgDetail("x", 1, 1)),  # type: ignore[arg-type]
        lambda: encode_call(RpcCall(2**32, 1, 1, 1)),
        lambda: encode_call(RpcCall(1, 1, 1, 1, "args")),  # type: ignore[arg-type]
        lambda: encode_reply(RpcReply(1, SigninReply(), accept_stat=rpc.GARBAGE_ARGS)),
        lambda: encode_reply(RpcReply(1, accept_stat=9)),
        lambda: encode_reply(RpcReply(1, reply_stat=2)),
        lambda: encode_reply(RpcReply(1, reply_stat=rpc.MSG_DENIED, reject_stat=2)),
        lambda: encode_reply(RpcReply(1, reply_stat=rpc.MSG_DENIED, verf=b"v")),
        lambda: encode_success(1, 5),  # type: ignore[arg-type]
        lambda: decode_message(b"", ProgDetail),  # type: ignore[type-var]
        lambda: decode_reply(encode_success(1, None)[4:], ProgDetail),  # type: ignore[arg-type]
    ],
)
def test_bad_values_raise_xdr_error(build: Any) -> None:
    with pytest.raises(XdrError):
        build()


@given(rpc_replies(), st.integers(0, 80))
def test_native_encoder_never_passes_capacity(case: tuple[RpcReply, Any], cap: int) -> None:
    from gd2.xdr._xdr_native import ffi, lib

    reply, _ = case
    wire = encode_reply(reply)
    # Rebuild the native arguments the facade passes, then give the encoder too little room.
    msg, vals, blob = encode_body(reply.result)
    detail = reply.accept_stat if reply.reply_stat == 0 else reply.reject_stat
    low = reply.auth_stat if reply.reply_stat == 1 and detail == 1 else reply.mismatch_low
    head = struct.pack("=8q", msg, reply.xid, reply.reply_stat, detail, low, reply.mismatch_high,
                       reply.verf_flavor, len(reply.verf))  # fmt: skip
    vals = head + vals
    guard = 16
    buf = ffi.new("uint8_t[]", cap + guard)
    ffi.memmove(buf + cap, b"\xaa" * guard, guard)
    written = lib.gxdr_encode_reply(buf, cap, vals, len(vals) // 8, reply.verf + blob, len(reply.verf) + len(blob))
    if cap >= len(wire):
        assert written == len(wire) and bytes(ffi.buffer(buf, written)) == wire
    else:
        assert written == lib.GXDR_E_NO_SPACE
    assert bytes(ffi.buffer(buf + cap, guard)) == b"\xaa" * guard


@given(st.binary(max_size=80), st.integers(0, 20), st.integers(-1, 18))
def test_native_decoder_respects_slot_room(data: bytes, nout: int, msg: int) -> None:
    from gd2.xdr._xdr_native import ffi, lib

    out = ffi.new("uint64_t[]", nout + 4)
    for i in range(nout, nout + 4):
        out[i] = 0xDEAD
    lib.gxdr_decode_body(data, len(data), 0, msg, out, nout)
    lib.gxdr_decode_call(data, len(data), out, nout)
    lib.gxdr_decode_reply(data, len(data), msg, out, nout)
    assert [out[i] for i in range(nout, nout + 4)] == [0xDEAD] * 4
