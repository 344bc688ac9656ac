"""RFC 5531 record marking: split RPC messages into fragments, and find them again in a stream.

GlusterFS sends every message as one fragment with the last-fragment bit set, but accepts
multi-fragment records; glusterd2 does the same (GLUSTER_PROTOCOL.md §1.2).
"""

from __future__ import annotations

from typing import Any

from gd2.xdr._xdr_native import ffi as _ffi
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import XdrError, status_error

LAST_FRAGMENT = 0x80000000
"""Header bit marking the last fragment of a record."""
MAX_FRAGMENT = 0x7FFFFFFF
"""Largest fragment length a header can carry."""

# Payload pieces reported per native call; a chunk with more pieces takes several calls.
_SPANS = 64

BytesLike = bytes | bytearray | memoryview


def encode_record(payload: BytesLike, max_fragment: int = MAX_FRAGMENT) -> bytes:
    """Frame payload as one record of fragments of at most max_fragment bytes, the last flagged.

    The default sends a single fragment, as GlusterFS does. An empty payload is one empty last
    fragment.
    """
    if not 1 <= max_fragment <= MAX_FRAGMENT:
        raise XdrError(f"max_fragment {max_fragment} out of range 1..{MAX_FRAGMENT}")
    size = len(payload) if not isinstance(payload, memoryview) else payload.nbytes
    if size <= max_fragment:
        # One header word in front of the payload: cheaper here than a foreign call.
        return (LAST_FRAGMENT | size).to_bytes(4, "big") + payload
    total = _lib.gxdr_record_size(size, max_fragment)
    out = bytearray(total)
    written = _lib.gxdr_record_encode(_ffi.from_buffer(out), total, _ffi.from_buffer(payload), size, max_fragment)
    if written != total:
        raise status_error(written if written < 0 else -1, "encoding a record")
    return bytes(out)


class RecordReassembler:
    """Turns the bytes of a stream, in chunks of any size, into complete records.

    Only bytes actually received are buffered, and a fragment header that would take its record
    past max_record raises XdrError before any of that fragment is read, so a peer cannot make
    the daemon allocate what it claims. After an XdrError the stream is unusable: every later
    ``feed`` raises again. Not safe to share between threads.
    """

    __slots__ = ("_max_record", "_partial", "_spans", "_state")

    def __init__(self, max_record: int) -> None:
        if not 0 <= max_record <= (1 << 63) - 1:
            raise XdrError(f"max_record {max_record} out of range")
        self._max_record = max_record
        self._state: Any = _ffi.new("gxdr_reasm *")
        _lib.gxdr_reasm_init(self._state, max_record)
        self._spans: Any = _ffi.new("uint64_t[]", 3 * _SPANS)
        self._partial = bytearray()

    @property
    def max_record(self) -> int:
        """Largest record payload accepted, in bytes."""
        return self._max_record

    @property
    def at_boundary(self) -> bool:
        """True when no part of a next record (not even a header byte) is buffered.

        A stream that ends while this is False ended in the middle of a record.
        """
        return bool(_lib.gxdr_reasm_idle(self._state))

    def feed(self, chunk: BytesLike) -> list[bytes]:
        """Consume chunk and return the records it completes, in order (often none or one)."""
        data = chunk if type(chunk) is bytes else bytes(chunk)
        records: list[bytes] = []
        partial = self._partial
        size = len(data)
        pos = 0
        while pos < size:
            count = _lib.gxdr_reasm_scan(self._state, data, size, pos, self._spans, _SPANS)
            if count < 0:
                # The records completed earlier in this chunk go down with the stream: a peer
                # that breaks the framing is disconnected, not half served.
                partial.clear()
                raise status_error(count, "record marking")
            spans: list[int] = _ffi.unpack(self._spans, 3 * count)
            for i in range(0, 3 * count, 3):
                start = spans[i]
                piece = data[start : start + spans[i + 1]]
                if not spans[i + 2]:
                    partial += piece
                elif partial:
                    partial += piece
                    records.append(bytes(partial))
                    partial.clear()
                else:
                    records.append(piece)
            # Fewer pieces than room for them means the scan reached the end of the chunk.
            pos = size if count < _SPANS else self._state.pos
        return records
