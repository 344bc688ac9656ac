"""gd2.xdr record marking: framing like the reference, reassembly under any chunking, size limits."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gd2.xdr import LAST_FRAGMENT, MAX_FRAGMENT, RecordReassembler, XdrError, encode_record


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


def _header(length: int, last: bool) -> bytes:
    return ((LAST_FRAGMENT if last else 0) | length).to_bytes(4, "big")


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# A stream of records, each framed with its own fragment size.
records = st.lists(st.tuples(st.binary(max_size=100), st.integers(1, 40)), max_size=8)


@given(st.binary(max_size=300), st.integers(1, 64))
def test_encode_record_matches_reference(payload: bytes, max_fragment: int) -> None:
    assert encode_record(payload, max_fragment) == ref.encode_record(payload, max_fragment)
    assert encode_record(bytearray(payload)) == _header(len(payload), True) + payload


def test_empty_record_is_one_empty_last_fragment() -> None:
    assert encode_record(b"") == _header(0, True)


@pytest.mark.parametrize("bad", [0, -1, MAX_FRAGMENT + 1])
def test_encode_record_rejects_bad_fragment_size(bad: int) -> None:
    with pytest.raises(XdrError):
        encode_record(b"x", bad)


@given(records, st.lists(st.integers(0, 10_000), max_size=20))
def test_any_chunking_gives_back_the_records(stream: list[tuple[bytes, int]], cuts: list[int]) -> None:
    wire = b"".join(encode_record(payload, frag) for payload, frag in stream)
    reassembler = RecordReassembler(max_record=100)
    got: list[bytes] = []
    for chunk in _chunks(wire, cuts):
        got += reassembler.feed(chunk)
    assert got == [payload for payload, _ in stream]
    assert reassembler.at_boundary


@given(records)
def test_byte_by_byte(stream: list[tuple[bytes, int]]) -> None:
    wire = b"".join(encode_record(payload, frag) for payload, frag in stream)
    reassembler = RecordReassembler(max_record=100)
    got: list[bytes] = []
    for i in range(len(wire)):
        got += reassembler.feed(memoryview(wire)[i : i + 1])
    assert got == [payload for payload, _ in stream]


def test_many_records_in_one_chunk() -> None:
    # More records than the native scan reports per call.
    payloads = [bytes([i % 256]) * (i % 5) for i in range(500)]
    wire = b"".join(encode_record(p) for p in payloads)
    assert RecordReassembler(max_record=10).feed(bytearray(wire)) == payloads


def test_empty_fragments() -> None:
    wire = _header(0, False) + _header(0, False) + _header(2, False) + b"ab" + _header(0, True)
    reassembler = RecordReassembler(max_record=2)
    assert reassembler.feed(wire[:4]) == []
    assert not reassembler.at_boundary
    assert reassembler.feed(wire[4:]) == [b"ab"]
    assert reassembler.at_boundary


def test_at_boundary_tracks_partial_headers() -> None:
    reassembler = RecordReassembler(max_record=16)
    assert reassembler.at_boundary
    reassembler.feed(b"\x80")
    assert not reassembler.at_boundary
    assert reassembler.feed(b"\x00\x00\x01x") == [b"x"]
    assert reassembler.at_boundary


def test_record_of_exactly_max_is_accepted() -> None:
    payload = b"x" * 50
    assert RecordReassembler(max_record=50).feed(encode_record(payload, 7)) == [payload]


@pytest.mark.parametrize("claimed", [101, 2**20, MAX_FRAGMENT])
def test_oversized_fragment_fails_at_its_header(claimed: int) -> None:
    # Only the header arrives: the claim alone must be refused, with nothing allocated for it.
    reassembler = RecordReassembler(max_record=100)
    assert reassembler.feed(_header(claimed, True)[:3]) == []
    with pytest.raises(XdrError, match="over the maximum size"):
        reassembler.feed(_header(claimed, True)[3:])


def test_fragments_adding_up_past_max_fail() -> None:
    reassembler = RecordReassembler(max_record=100)
    assert reassembler.feed(_header(60, False) + b"a" * 60) == []
    with pytest.raises(XdrError, match="over the maximum size"):
        reassembler.feed(_header(41, True))
    # The stream stays broken: its framing can no longer be trusted.
    with pytest.raises(XdrError):
        reassembler.feed(encode_record(b"ok"))


@given(records, st.integers(0, 60), st.lists(st.integers(0, 10_000), max_size=10))
def test_max_record_like_reference(stream: list[tuple[bytes, int]], max_record: int, cuts: list[int]) -> None:
    wire = b"".join(encode_record(payload, frag) for payload, frag in stream)
    ours, theirs = RecordReassembler(max_record), ref.Reassembler(max_record)
    for chunk in _chunks(wire, cuts):
        try:
            expected = theirs.feed(chunk)
        except ref.RefError:
            with pytest.raises(XdrError):
                ours.feed(chunk)
            return
        assert ours.feed(chunk) == expected
        assert ours.at_boundary == theirs.at_boundary


@given(st.binary(max_size=200), st.integers(0, 64), st.lists(st.integers(0, 10_000), max_size=10))
def test_random_stream_like_reference(wire: bytes, max_record: int, cuts: list[int]) -> None:
    ours, theirs = RecordReassembler(max_record), ref.Reassembler(max_record)
    for chunk in _chunks(wire, cuts):
        try:
            expected = theirs.feed(chunk)
        except ref.RefError:
            with pytest.raises(XdrError):
                ours.feed(chunk)
            return
        assert ours.feed(chunk) == expected
        assert ours.at_boundary == theirs.at_boundary


def test_bad_max_record() -> None:
    with pytest.raises(XdrError):
        RecordReassembler(max_record=-1)
