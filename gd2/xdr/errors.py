"""The one exception the XDR codec and record marking raise."""

from __future__ import annotations

from gd2.xdr._xdr_native import lib as _lib


class XdrError(ValueError):
    """Bytes that are not valid XDR for the expected layout, or a value that cannot be encoded.

    A server answers GARBAGE_ARGS to a call whose arguments raise it, and drops a connection whose
    record marking does.
    """


_REASONS: dict[int, str] = {
    _lib.GXDR_E_TRUNCATED: "input ends before the item does",
    _lib.GXDR_E_TOO_LONG: "length over the maximum",
    _lib.GXDR_E_BAD_BOOL: "bool is neither 0 nor 1",
    _lib.GXDR_E_RANGE: "value out of range for its type",
    _lib.GXDR_E_NO_SPACE: "output buffer too small",
    _lib.GXDR_E_FORMAT: "malformed format",
    _lib.GXDR_E_ARGS: "values do not match the format",
    _lib.GXDR_E_RECORD_TOO_LARGE: "record over the maximum size",
    _lib.GXDR_E_FIXED_LENGTH: "fixed opaque of the wrong length",
    _lib.GXDR_E_TRAILING: "unexpected bytes after the message",
    _lib.GXDR_E_BAD_MSG: "not a valid RPC message of the expected kind",
    _lib.GXDR_E_BAD_DICT: "malformed glusterfs dict",
}


def status_error(status: int, context: str) -> XdrError:
    """Build the XdrError for a negative status returned by the native codec."""
    reason = _REASONS.get(status, f"native status {status}")
    return XdrError(f"{context}: {reason}")
