"""The glusterfs dict codec (GLUSTER_PROTOCOL.md §5) and its helpers."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gd2.xdr import XdrError, decode_dict, dict_int, dict_str, dict_value, encode_dict, make_dict


def _load_reference() -> ModuleType:
    name = "gd2_tests_xdr_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("xdr_reference.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ref = _load_reference()

keys = st.one_of(
    st.text(max_size=12).filter(lambda k: "\0" not in k),
    st.binary(max_size=12).filter(lambda b: b"\0" not in b).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
gfdicts = st.dictionaries(keys, st.binary(max_size=20), max_size=8)


@given(gfdicts)
def test_round_trip_and_reference(data: dict[str, bytes]) -> None:
    blob = encode_dict(data)
    assert blob == ref.serialize_dict(data)
    assert decode_dict(blob) == data == ref.unserialize_dict(blob)
    assert decode_dict(bytearray(blob)) == data


def test_getspec_xdata_example() -> None:
    # GLUSTER_PROTOCOL.md §5: two pairs, 59 bytes, ints as NUL-terminated decimal strings.
    data = make_dict({"max-op-version": 100000, "min-op-version": 1})
    blob = encode_dict(data)
    assert len(blob) == 59
    assert blob == (
        struct.pack(">III", 2, 14, 7) + b"max-op-version\0" + b"100000\0"
        + struct.pack(">II", 14, 2) + b"min-op-version\0" + b"1\0"
    )  # fmt: skip


def test_empty_dict_is_zero_bytes_and_both_empty_forms_decode() -> None:
    assert encode_dict({}) == b""
    assert decode_dict(b"") == {}
    assert decode_dict(bytes(4)) == {}


def test_last_duplicate_wins() -> None:
    blob = struct.pack(">I", 2) + (struct.pack(">II", 1, 1) + b"k\0a") + (struct.pack(">II", 1, 1) + b"k\0b")
    assert decode_dict(blob) == {"k": b"b"}


@given(gfdicts.filter(bool), st.data())
def test_truncated_raises(data: dict[str, bytes], draw: st.DataObject) -> None:
    blob = encode_dict(data)
    cut = draw.draw(st.integers(1, len(blob) - 1))
    with pytest.raises(XdrError):
        decode_dict(blob[:cut])


@given(st.binary(max_size=60))
def test_random_bytes_like_reference(blob: bytes) -> None:
    try:
        expected = ref.unserialize_dict(blob)
    except ref.RefError:
        with pytest.raises(XdrError, match="dict"):
            decode_dict(blob)
    else:
        assert decode_dict(blob) == expected


@pytest.mark.parametrize("count", [2, 2**31, 2**32 - 1])
def test_huge_counts_and_lengths_raise(count: int) -> None:
    with pytest.raises(XdrError):
        decode_dict(struct.pack(">I", count) + bytes(8))
    with pytest.raises(XdrError):
        decode_dict(struct.pack(">III", 1, count, 0) + b"k\0")
    with pytest.raises(XdrError):
        decode_dict(struct.pack(">III", 1, 1, count) + b"k\0")


@pytest.mark.parametrize(
    "bad",
    [{"a\0b": b"v"}, {"k": "text"}, {"k": 5}, {5: b"v"}, {"\ud800": b"v"}],
)
def test_bad_dicts_raise_on_encode(bad: dict[str, bytes]) -> None:
    with pytest.raises(XdrError):
        encode_dict(bad)


def test_bytes_like_values_are_accepted() -> None:
    assert decode_dict(encode_dict({"a": bytearray(b"x"), "b": memoryview(b"yz")})) == {"a": b"x", "b": b"yz"}  # type: ignore[dict-item]


def test_value_helpers() -> None:
    data = make_dict({"volname": "gv0", "flags": 1, "neg": -5, "raw": b"\x01\x02"})
    assert data == {"volname": b"gv0\0", "flags": b"1\0", "neg": b"-5\0", "raw": b"\x01\x02"}
    assert dict_value("é") == "é".encode() + b"\0"
    with pytest.raises(XdrError):
        dict_value(True)
    assert dict_str(data, "volname") == "gv0"
    assert dict_str(data, "missing") is None
    assert dict_str({"k": b"no-nul"}, "k") == "no-nul"
    assert dict_int(data, "flags") == 1
    assert dict_int(data, "neg") == -5
    assert dict_int(data, "missing") is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("-7", -7), ("+3", 3), ("0x1F", 31), ("0X1f", 31), ("010", 8), ("  12", 12)],
)
def test_dict_int_parses_like_strtoll_base_0(text: str, value: int) -> None:
    assert dict_int({"k": text.encode() + b"\0"}, "k") == value


@pytest.mark.parametrize("text", ["", "x", "12x", "1_000", "12 ", "08", "0x", "--1", "1.5"])
def test_dict_int_rejects_non_integers(text: str) -> None:
    with pytest.raises(XdrError, match="not an integer"):
        dict_int({"k": text.encode() + b"\0"}, "k")
