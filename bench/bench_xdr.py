"""Throughput of gd2.xdr (C through cffi) against the plain-Python reference codec in the tests.

Two parts, measured side by side in one run:

1. The message mix (the issue's target: C at least 10x the reference). What one brick start and
   one FUSE mount of a 2-brick volume put through glusterd2's SunRPC server (GLUSTER_PROTOCOL.md
   §12): per brick GETSPEC (xdata with brick_name and op-versions, 2 KiB volfile back) and SIGNIN;
   per mount one client GETSPEC; per brick connection of the client DUMP (3 programs back), PING
   and PORTBYBRICK. Each exchange is the four codec operations of a round trip: the client encodes
   the CALL, the server decodes it, the server encodes the REPLY, the client decodes it. gd2.xdr
   does each with one native call (gd2.xdr.rpc); the reference with its per-item Packer/Unpacker
   (tests/unit/xdr_reference.py). Both build the same typed messages.
2. The format-string codec against the reference on one GETSPEC CALL + REPLY pair, framed as
   records and reassembled (per item and with pack/unpack).

Run from the repository root with the extension built:

    python bench/bench_xdr.py [seconds per case]
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from gd2.xdr import (
    CommonReply,
    DumpReply,
    DumpRequest,
    GetspecReply,
    GetspecRequest,
    PortByBrickReply,
    PortByBrickRequest,
    ProgDetail,
    RecordReassembler,
    RpcCall,
    SigninReply,
    SigninRequest,
    XdrDecoder,
    XdrEncoder,
    decode_call,
    decode_reply,
    encode_call,
    encode_record,
    encode_success,
    make_dict,
    rpc,
)


def _load_reference() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "tests" / "unit" / "xdr_reference.py"
    spec = importlib.util.spec_from_file_location("xdr_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["xdr_reference"] = module
    spec.loader.exec_module(module)
    return module


ref = _load_reference()

CRED = bytes(range(24))  # auth_glusterfs_parms_v2: pid, uid, gid, no groups, 8-byte lk_owner
KEY = "gv0.node1.data-brick1-b1"
XDATA = b"\x00\x00\x00\x02" + b"k" * 120  # a small serialized dict
VOLFILE = ("volume gv0-posix\n    type storage/posix\n    option directory /data/b1\nend-volume\n" * 28)[:2048]

CALL_FMT = "I I I I I I I o<400> I o<400> I s o"
CALL = (0x1234, 0, 2, 14398633, 2, 2, 390039, CRED, 0, b"", 1, KEY, XDATA)
REPLY_FMT = "I I I I o<400> I i i s o"
REPLY = (0x1234, 1, 0, 0, b"", 0, len(VOLFILE), 0, VOLFILE, b"")
MAX_RECORD = 1 << 20


# One reassembler per connection, as a server keeps it.
NATIVE_STREAM = RecordReassembler(MAX_RECORD)
REFERENCE_STREAM = ref.Reassembler(MAX_RECORD)
MESSAGES = ((CALL_FMT, CALL), (REPLY_FMT, REPLY))


def _items(fmt: str, values: tuple[Any, ...]) -> list[tuple[str, int, Any]]:
    # (method, bound, value) per item, resolved once, as hand-written message code would be.
    names = {"I": "uint32", "i": "int32", "o": "opaque", "s": "string"}
    out = []
    for code, value in zip(fmt.split(), values, strict=True):
        bound = int(code[2:-1]) if "<" in code else 0xFFFFFFFF
        out.append((names[code[0]], bound, value))
    return out


ITEMS = [_items(fmt, values) for fmt, values in MESSAGES]


def native_batched_encode() -> list[bytes]:
    wires = []
    for fmt, values in MESSAGES:
        encoder = XdrEncoder()
        encoder.pack(fmt, *values)
        wires.append(encode_record(encoder.getvalue()))
    return wires


def native_batched_decode(wires: list[bytes]) -> None:
    for (fmt, values), wire in zip(MESSAGES, wires, strict=True):
        (record,) = NATIVE_STREAM.feed(wire)
        assert XdrDecoder(record).unpack(fmt) == values


def _per_item_encode(encoder: Callable[[], Any], frame: Callable[[bytes], bytes]) -> list[bytes]:
    wires = []
    for items in ITEMS:
        enc = encoder()
        for name, bound, value in items:
            if name in ("opaque", "string"):
                getattr(enc, name)(value, bound)
            else:
                getattr(enc, name)(value)
        wires.append(frame(enc.getvalue()))
    return wires


def _per_item_decode(decoder: Callable[[bytes], Any], stream: Any, wires: list[bytes]) -> None:
    for items, wire in zip(ITEMS, wires, strict=True):
        (record,) = stream.feed(wire)
        dec = decoder(record)
        decoded = [
            getattr(dec, name)(bound) if name in ("opaque", "string") else getattr(dec, name)()
            for name, bound, _ in items
        ]
        assert decoded == [value for _, _, value in items]


CASES: dict[str, tuple[Callable[[], list[bytes]], Callable[[list[bytes]], None]]] = {
    "python reference, per item": (
        lambda: _per_item_encode(ref.Packer, ref.encode_record),
        lambda wires: _per_item_decode(ref.Unpacker, REFERENCE_STREAM, wires),
    ),
    "gd2.xdr (C), per item": (
        lambda: _per_item_encode(XdrEncoder, encode_record),
        lambda wires: _per_item_decode(XdrDecoder, NATIVE_STREAM, wires),
    ),
    "gd2.xdr (C), pack/unpack": (native_batched_encode, native_batched_decode),
}


def _rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second, best of three rounds."""
    fn()
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            for _ in range(100):
                fn()
            count += 100
        best = max(best, count / elapsed)
    return best


# ---- the message mix ---------------------------------------------------------------------------------

BRICK = "/data/brick1/b1"
_brick_xdata = make_dict({"brick_name": BRICK, "max-op-version": 100000, "min-op-version": 1})
_client_xdata = make_dict({"max-op-version": 100000, "min-op-version": 1})
_programs = (
    ProgDetail("GF-DUMP", rpc.GF_DUMP_PROGRAM, 1),
    ProgDetail("GlusterFS Handshake", rpc.HANDSHAKE_PROGRAM, 2),
    ProgDetail("Gluster Portmap", rpc.PORTMAP_PROGRAM, 1),
)


def _call(xid: int, prog: int, vers: int, proc: int, args: Any) -> RpcCall:
    return RpcCall(xid, prog, vers, proc, args, rpc.AUTH_GLUSTERFS_V2, CRED)


# (weight, call, reply result type, reply result)
EXCHANGES: list[tuple[int, RpcCall, Any, Any]] = [
    (2, _call(1, rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(0, KEY, _brick_xdata)), GetspecReply,
     GetspecReply.found(VOLFILE)),
    (2, _call(2, rpc.PORTMAP_PROGRAM, 1, 4, SigninRequest(BRICK, 49152, 4242)), SigninReply, SigninReply()),
    (1, _call(3, rpc.HANDSHAKE_PROGRAM, 2, 2, GetspecRequest(1, "/gv0", _client_xdata)), GetspecReply,
     GetspecReply.found(VOLFILE)),
    (2, _call(4, rpc.GF_DUMP_PROGRAM, 1, 1, DumpRequest()), DumpReply, DumpReply(0xCAED, 0, 0, _programs)),
    (2, _call(5, rpc.GF_DUMP_PROGRAM, 1, 2, None), CommonReply, CommonReply()),
    (2, _call(6, rpc.PORTMAP_PROGRAM, 1, 1, PortByBrickRequest(BRICK)), PortByBrickReply,
     PortByBrickReply(0, 0, 0, 49152)),
]  # fmt: skip
MIX = [(call, result_type, result) for weight, call, result_type, result in EXCHANGES for _ in range(weight)]


def mix_native() -> None:
    for call, result_type, result in MIX:
        received = decode_call(encode_call(call)[4:])
        decode_reply(encode_success(received.xid, result)[4:], result_type)


def mix_reference() -> None:
    for call, result_type, result in MIX:
        received = ref.decode_call(ref.encode_call(call)[4:])
        ref.decode_reply(ref.encode_success(received.xid, result)[4:], result_type)


def check_mix() -> None:
    """Both sides produce the same bytes and the same messages, or the comparison means nothing."""
    for call, result_type, result in MIX:
        wire = encode_call(call)
        assert wire == ref.encode_call(call)
        assert decode_call(wire[4:]) == ref.decode_call(wire[4:]) == call
        reply = encode_success(call.xid, result)
        assert reply == ref.encode_success(call.xid, result)
        assert decode_reply(reply[4:], result_type) == ref.decode_reply(reply[4:], result_type)


def run_mix(seconds: float) -> None:
    check_mix()
    names = " + ".join(
        f"{weight}x {type(call.args).__name__ if call.args else 'PING'}" for weight, call, _, _ in EXCHANGES
    )
    print(f"message mix: {len(MIX)} exchanges ({names}); each = encode CALL, decode CALL, encode REPLY, decode REPLY")
    native = _rate(mix_native, seconds) * len(MIX) * 4
    reference = _rate(mix_reference, seconds) * len(MIX) * 4
    ratio = native / reference
    print(f"  gd2.xdr (C, one native call per message): {native:12,.0f} messages/s")
    print(f"  python reference (per item):              {reference:12,.0f} messages/s")
    print(f"  ratio C / reference: {ratio:.2f}x   (target >= 10x: {'met' if ratio >= 10 else 'NOT met'})")
    print()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    run_mix(seconds)
    sizes = [len(wire) for wire in native_batched_encode()]
    print(f"format-string codec: GETSPEC CALL {sizes[0]} B + REPLY {sizes[1]} B, framed; message pairs per second")
    print(f"{'':28} {'encode+frame':>14} {'reassemble+decode':>18} {'both':>10}  vs reference")
    baseline = 0.0
    for name, (encode, decode) in CASES.items():
        wires = encode()
        enc = _rate(encode, seconds)
        dec = _rate(lambda decode=decode, wires=wires: decode(wires), seconds)
        both = 1 / (1 / enc + 1 / dec)
        baseline = baseline or both
        print(f"{name:28} {enc:14,.0f} {dec:18,.0f} {both:10,.0f}  {both / baseline:.2f}x")


if __name__ == "__main__":
    main()
