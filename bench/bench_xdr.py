"""Throughput of gd2.xdr (C through cffi) against the plain-Python reference codec in the tests.

The mix is what glusterd2 handles most: an RPC CALL with AUTH_GLUSTERFS_v2 credentials carrying
GETSPEC arguments (flags, volfile key, xdata dict), and its REPLY carrying a 2 KiB volfile, each
framed as a record and reassembled. Run from the repository root with the extension built:

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

from gd2.xdr import RecordReassembler, XdrDecoder, XdrEncoder, encode_record


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


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    sizes = [len(wire) for wire in native_batched_encode()]
    print(f"mix: CALL {sizes[0]} B + REPLY {sizes[1]} B; rates in message pairs per second")
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
