"""gd2.xdr codec: agreement with a plain-Python reference, round trips, and hostile input."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gd2.xdr import UNBOUNDED, XdrDecoder, XdrEncoder, XdrError
from gd2.xdr._format import compile_format


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

# ---- strategies: (format item, value) pairs ------------------------------------------------------

_small_bound = st.integers(min_value=0, max_value=40)


@st.composite
def _bounded_opaque(draw: st.DrawFn) -> tuple[str, bytes]:
    bound = draw(_small_bound)
    return f"o<{bound}>", draw(st.binary(max_size=bound))


@st.composite
def _fixed_opaque(draw: st.DrawFn) -> tuple[str, bytes]:
    length = draw(_small_bound)
    return f"o[{length}]", draw(st.binary(min_size=length, max_size=length))


@st.composite
def _bounded_string(draw: st.DrawFn) -> tuple[str, str]:
    text = draw(st.text(max_size=20))
    slack = draw(st.integers(min_value=0, max_value=5))
    return f"s<{len(text.encode()) + slack}>", text


# Strings that are not UTF-8 on the wire must survive a decode/encode round trip.
_wire_string = st.binary(max_size=30).map(lambda b: b.decode("utf-8", "surrogateescape"))

item = st.one_of(
    st.tuples(st.just("I"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("i"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("Q"), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("q"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("?"), st.booleans()),
    st.tuples(st.just("o"), st.binary(max_size=50)),
    st.tuples(st.just("s"), st.one_of(st.text(max_size=30), _wire_string)),
    _bounded_opaque(),
    _fixed_opaque(),
    _bounded_string(),
)
items = st.lists(item, max_size=12)


def _fmt(pairs: list[tuple[str, Any]]) -> str:
    return " ".join(code for code, _ in pairs)


def _values(pairs: list[tuple[str, Any]]) -> list[Any]:
    return [value for _, value in pairs]


_METHODS = {"I": "uint32", "i": "int32", "Q": "uint64", "q": "int64", "?": "boolean"}


def _call_put(encoder: Any, code: str, value: Any) -> None:
    if code in _METHODS:
        getattr(encoder, _METHODS[code])(value)
    elif code.startswith("o["):
        encoder.fixed_opaque(value, int(code[2:-1]))
    elif code.startswith("o"):
        encoder.opaque(value, int(code[2:-1]) if "<" in code else UNBOUNDED)
    else:
        encoder.string(value, int(code[2:-1]) if "<" in code else UNBOUNDED)


def _call_get(decoder: Any, code: str) -> Any:
    if code in _METHODS:
        return getattr(decoder, _METHODS[code])()
    if code.startswith("o["):
        return decoder.fixed_opaque(int(code[2:-1]))
    bound = int(code[2:-1]) if "<" in code else UNBOUNDED
    return decoder.opaque(bound) if code.startswith("o") else decoder.string(bound)


# ---- agreement and round trips -------------------------------------------------------------------


@given(items)
def test_pack_matches_reference(pairs: list[tuple[str, Any]]) -> None:
    encoder, packer = XdrEncoder(size_hint=1), ref.Packer()
    encoder.pack(_fmt(pairs), *_values(pairs))
    packer.pack(_fmt(pairs), *_values(pairs))
    assert encoder.getvalue() == packer.getvalue()
    assert len(encoder) == len(packer.getvalue())
    assert len(encoder) % 4 == 0


@given(items)
def test_item_methods_match_reference(pairs: list[tuple[str, Any]]) -> None:
    encoder, packer = XdrEncoder(size_hint=1), ref.Packer()
    for code, value in pairs:
        _call_put(encoder, code, value)
        _call_put(packer, code, value)
    data = encoder.getvalue()
    assert data == packer.getvalue()

    decoder = XdrDecoder(data)
    assert [_call_get(decoder, code) for code, _ in pairs] == _values(pairs)
    decoder.done()


@given(items, st.integers(0, 3))
def test_unpack_round_trip(pairs: list[tuple[str, Any]], split: int) -> None:
    encoder = XdrEncoder()
    encoder.pack(_fmt(pairs), *_values(pairs))
    decoder = XdrDecoder(bytearray(encoder.getvalue()))
    # Several unpack calls over one buffer must continue where the last one stopped.
    head, tail = pairs[:split], pairs[split:]
    got = list(decoder.unpack(_fmt(head))) + list(decoder.unpack(_fmt(tail)))
    assert got == _values(pairs)
    assert [type(v) for v in got] == [type(v) for v in _values(pairs)]
    assert decoder.remaining == 0
    decoder.done()


def test_known_encoding() -> None:
    encoder = XdrEncoder()
    encoder.pack("I i ? o<8> s o[3] Q q", 7, -2, True, b"abcde", "gd", b"xyz", 2**64 - 1, -1)
    assert encoder.getvalue().hex() == (
        "00000007fffffffe00000001000000056162636465000000000000026764000078797a00ffffffffffffffffffffffffffffffff"
    )


def test_strings_keep_non_utf8_bytes() -> None:
    raw = b"/bricks/\xff\xfe"
    encoder = XdrEncoder()
    encoder.string(raw)
    text = XdrDecoder(encoder.getvalue()).string()
    again = XdrEncoder()
    again.string(text)
    assert again.getvalue() == encoder.getvalue()


def test_encoder_grows_past_its_hint() -> None:
    encoder = XdrEncoder(size_hint=1)
    blob = bytes(range(256)) * 64
    for _ in range(10):
        encoder.opaque(blob)
        encoder.uint32(1)
    decoder = XdrDecoder(encoder.getvalue())
    for _ in range(10):
        assert decoder.unpack("oI") == (blob, 1)
    decoder.done()


# ---- hostile input: every failure is an XdrError, and decoding is all or nothing -----------------


@given(items, st.data())
def test_truncated_input_raises(pairs: list[tuple[str, Any]], data: st.DataObject) -> None:
    encoder = XdrEncoder()
    encoder.pack(_fmt(pairs), *_values(pairs))
    encoded = encoder.getvalue()
    if not encoded:
        return
    cut = data.draw(st.integers(0, len(encoded) - 1))
    decoder = XdrDecoder(encoded[:cut])
    with pytest.raises(XdrError):
        decoder.unpack(_fmt(pairs))
    assert decoder.offset == 0


_random_fmt = st.lists(
    st.sampled_from(["I", "i", "Q", "q", "?", "o", "s", "o<3>", "s<5>", "o[2]", "o[0]", "o<0>"]), max_size=8
).map(" ".join)


@given(st.binary(max_size=64), _random_fmt)
def test_random_bytes_decode_like_reference(data: bytes, fmt: str) -> None:
    decoder, unpacker = XdrDecoder(data), ref.Unpacker(data)
    try:
        expected = unpacker.unpack(fmt)
    except ref.RefError:
        with pytest.raises(XdrError):
            decoder.unpack(fmt)
        assert decoder.offset == 0
    else:
        assert decoder.unpack(fmt) == expected
        assert decoder.remaining == unpacker.remaining


@given(st.binary(min_size=4, max_size=64), st.sampled_from(["o", "s", "o<1>", "s<2>"]))
def test_length_past_the_end_raises(tail: bytes, fmt: str) -> None:
    # A length word claiming more than the buffer holds (up to 4 GiB) must not read past the end.
    for claimed in (len(tail) + 1, 2**31 - 1, 2**31, 2**32 - 1):
        with pytest.raises(XdrError):
            XdrDecoder(claimed.to_bytes(4, "big") + tail).unpack(fmt)


def test_length_over_bound_raises() -> None:
    data = (5).to_bytes(4, "big") + b"abcde\0\0\0"
    assert XdrDecoder(data).opaque(5) == b"abcde"
    with pytest.raises(XdrError, match="over the maximum"):
        XdrDecoder(data).opaque(4)
    with pytest.raises(XdrError, match="over the maximum"):
        XdrDecoder(data).string(4)
    with pytest.raises(XdrError, match="over the maximum"):
        XdrEncoder().opaque(b"abcde", 4)
    with pytest.raises(XdrError, match="over the maximum"):
        XdrEncoder().string("abcdé", 5)


@pytest.mark.parametrize("word", [2, 3, 0x80000000, 0xFFFFFFFF])
def test_bad_bool_raises(word: int) -> None:
    with pytest.raises(XdrError, match="bool"):
        XdrDecoder(word.to_bytes(4, "big")).boolean()


@pytest.mark.parametrize(
    ("fmt", "values"),
    [
        ("I", (-1,)),
        ("I", (2**32,)),
        ("i", (2**31,)),
        ("i", (-(2**31) - 1,)),
        ("Q", (2**64,)),
        ("q", (2**63,)),
        ("q", (-(2**63) - 1,)),
        ("?", (2,)),
        ("?", (1.0,)),
        ("I", ("1",)),
        ("I", (1.5,)),
        ("q", (None,)),
        ("o", ("text",)),
        ("o", (5,)),
        ("s", (5,)),
        ("o[3]", (b"ab",)),
        ("o<2>", (b"abc",)),
        ("II", (1,)),
        ("I", (1, 2)),
        ("x", (1,)),
        ("o<", (b"",)),
        ("o[]", (b"",)),
        ("s[1]", (b"",)),
        ("o<4294967296>", (b"",)),
        ("I\0", (1,)),
        ("é", (1,)),
        ("s", ("\ud800",)),
    ],
)
def test_bad_values_raise_and_leave_the_encoder_unchanged(fmt: str, values: tuple[Any, ...]) -> None:
    encoder = XdrEncoder()
    encoder.uint32(42)
    with pytest.raises(XdrError):
        encoder.pack(fmt, *values)
    assert encoder.getvalue() == (42).to_bytes(4, "big")


def test_done_rejects_trailing_bytes() -> None:
    decoder = XdrDecoder(bytes(8))
    decoder.uint32()
    with pytest.raises(XdrError, match="4 unexpected bytes"):
        decoder.done()
    assert decoder.rest() == bytes(4)
    decoder.done()


def test_bounds_out_of_range_raise() -> None:
    for bad in (-1, 2**32):
        with pytest.raises(XdrError):
            XdrEncoder().opaque(b"", bad)
        with pytest.raises(XdrError):
            XdrDecoder(bytes(8)).string(bad)
        with pytest.raises(XdrError):
            XdrDecoder(bytes(8)).fixed_opaque(bad)


# ---- the format grammar is parsed in C; the reference parses it independently --------------------

_format_text = st.text(alphabet="IiQq?os<>[]0123456789 \tx", max_size=16)


@given(_format_text)
def test_format_grammar_matches_reference(fmt: str) -> None:
    try:
        expected = ref.parse_format(fmt)
    except ref.RefError:
        with pytest.raises(XdrError):
            compile_format(fmt)
    else:
        plan = compile_format(fmt)
        assert plan.count == len(expected)
        assert plan.slots == sum(2 if kind in "ofs" else 1 for kind, _ in expected)


# ---- the C primitives the facade does not use (kept for C message codecs) ------------------------


@given(st.binary(max_size=24), st.integers(0, 30), st.integers(0, 8))
def test_native_primitives_stay_in_bounds(data: bytes, pos: int, max_len: int) -> None:
    from gd2.xdr._xdr_native import ffi, lib

    u32, i32 = ffi.new("uint32_t *"), ffi.new("int32_t *")
    u64, i64 = ffi.new("uint64_t *"), ffi.new("int64_t *")
    off, n = ffi.new("size_t *"), ffi.new("uint32_t *")
    expectations = [
        lambda u: u.uint32(),
        lambda u: u.int32(),
        lambda u: u.uint64(),
        lambda u: u.int64(),
        lambda u: u.boolean(),
        lambda u: u.opaque(max_len),
        lambda u: u.fixed_opaque(max_len),
    ]
    calls = [
        (lambda: lib.gxdr_get_u32(data, len(data), pos, u32), lambda: u32[0]),
        (lambda: lib.gxdr_get_i32(data, len(data), pos, i32), lambda: i32[0]),
        (lambda: lib.gxdr_get_u64(data, len(data), pos, u64), lambda: u64[0]),
        (lambda: lib.gxdr_get_i64(data, len(data), pos, i64), lambda: i64[0]),
        (lambda: lib.gxdr_get_bool(data, len(data), pos, u32), lambda: u32[0] == 1),
        (
            lambda: lib.gxdr_get_opaque(data, len(data), pos, max_len, off, n),
            lambda: data[off[0] : off[0] + n[0]],
        ),
        (
            lambda: lib.gxdr_get_fixed(data, len(data), pos, max_len, off),
            lambda: data[off[0] : off[0] + max_len],
        ),
    ]
    for (call, read), expect in zip(calls, expectations, strict=True):
        status = call()
        if pos > len(data):
            assert status == lib.GXDR_E_TRUNCATED
            continue
        unpacker = ref.Unpacker(data[pos:])
        try:
            expected = expect(unpacker)
        except ref.RefError:
            assert status < 0
        else:
            assert status == pos + (len(data) - pos - unpacker.remaining)
            assert read() == expected


@given(st.integers(0, 2**64 - 1), st.binary(max_size=12), st.integers(0, 40), st.integers(0, 12))
def test_native_encoders_never_pass_capacity(value: int, blob: bytes, cap: int, pos: int) -> None:
    from gd2.xdr._xdr_native import ffi, lib

    guard = 8
    buf = ffi.new("uint8_t[]", cap + guard)
    ffi.memmove(buf + cap, b"\xaa" * guard, guard)
    results = [
        (lib.gxdr_put_u32(buf, cap, pos, value & 0xFFFFFFFF), 4),
        (lib.gxdr_put_u64(buf, cap, pos, value), 8),
        (lib.gxdr_put_fixed(buf, cap, pos, blob, len(blob)), len(blob) + (-len(blob) % 4)),
        (lib.gxdr_put_opaque(buf, cap, pos, blob, len(blob), 12), 4 + len(blob) + (-len(blob) % 4)),
    ]
    for status, size in results:
        if pos + size <= cap:
            assert status == pos + size
        else:
            assert status == lib.GXDR_E_NO_SPACE
    assert bytes(ffi.buffer(buf + cap, guard)) == b"\xaa" * guard
