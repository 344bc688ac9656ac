"""The glusterfs dict serialization used in xdata and dict fields (GLUSTER_PROTOCOL.md §5).

On the wire: u32 count, then per pair u32 keylen, u32 vallen, the key and a NUL (not counted in
keylen), and the value bytes (strings include their NUL); big-endian, no padding. Types are lost:
a value is bytes, integers travel as NUL-terminated decimal strings. An empty dict is sent as
zero bytes (a zero-length opaque), and zero bytes decode as an empty dict.

Decoded dicts are ``dict[str, bytes]`` with the value bytes exactly as sent; ``dict_str`` and
``dict_int`` read values the way GlusterFS does, ``make_dict`` builds a dict from str/int values.
The codec itself is native (one call per dict, or none: dicts inside messages are handled in the
message's own call).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping

from gd2.xdr._glue import decode_native, encode_native, pack_values
from gd2.xdr._xdr_native import lib as _lib
from gd2.xdr.errors import XdrError

GfDict = dict[str, bytes]
"""A decoded glusterfs dict: key -> value bytes as sent (strings keep their trailing NUL)."""

_MSG_DICT: int = _lib.GXDR_MSG_DICT


def put_dict(data: Mapping[str, bytes], values: list[int], parts: list[bytes]) -> None:
    """Append the native encoder's values and blob parts for a dict item."""
    values.append(len(data))
    for key, value in data.items():
        raw_key = key.encode("utf-8", "surrogateescape")
        if type(value) is not bytes:
            value = _value_bytes(key, value)
        values += (len(raw_key), len(value))
        parts += (raw_key, value)


def _value_bytes(key: str, value: object) -> bytes:
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise XdrError(f"dict value of {key!r} must be bytes, not {type(value).__name__} (see make_dict)")


def get_dict(slots: tuple[int, ...], k: int, data: bytes) -> GfDict:
    """The dict whose pair count is slots[k] and whose pairs follow (see native/gxdr_rpc.h)."""
    count = slots[k]
    result: GfDict = {}
    end = k + 1 + 4 * count
    for i in range(k + 1, end, 4):
        key_off, value_off = slots[i], slots[i + 2]
        result[data[key_off : key_off + slots[i + 1]].decode("utf-8", "surrogateescape")] = data[
            value_off : value_off + slots[i + 3]
        ]
    return result


def encode_dict(data: Mapping[str, bytes]) -> bytes:
    """Serialize data; an empty dict is zero bytes. Keys must not contain NUL."""
    values: list[int] = [_MSG_DICT]
    parts: list[bytes] = []
    try:
        put_dict(data, values, parts)
        vals = pack_values(values)
    except (AttributeError, UnicodeEncodeError, struct.error) as exc:
        raise XdrError(f"encoding dict: {exc}") from None
    return encode_native(_lib.gxdr_encode_body, vals, b"".join(parts), "dict")


def decode_dict(data: bytes | bytearray | memoryview) -> GfDict:
    """Parse a serialized dict, strictly: every length in bounds, each key NUL-terminated and
    NUL-free, no bytes left over. Zero bytes are an empty dict."""
    raw = data if type(data) is bytes else bytes(data)
    return get_dict(decode_native(_lib.gxdr_decode_body, raw, (0, _MSG_DICT), "dict"), 0, raw)


def dict_value(value: str | int | bytes) -> bytes:
    """A value as GlusterFS stores it: str with a trailing NUL, int as NUL-terminated decimal."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        raise XdrError("dict values are strings or integers, not bool (GlusterFS uses 'on'/'off')")
    if isinstance(value, int):
        return b"%d\0" % value
    return value.encode("utf-8", "surrogateescape") + b"\0"


def make_dict(items: Mapping[str, str | int | bytes]) -> GfDict:
    """A dict to send, from str, int or raw bytes values (see dict_value)."""
    return {key: dict_value(value) for key, value in items.items()}


def dict_str(data: Mapping[str, bytes], key: str) -> str | None:
    """The string value of key (its trailing NUL dropped), or None when absent."""
    value = data.get(key)
    if value is None:
        return None
    if value.endswith(b"\0"):
        value = value[:-1]
    return value.decode("utf-8", "surrogateescape")


def dict_int(data: Mapping[str, bytes], key: str) -> int | None:
    """The integer value of key, parsed like GlusterFS's strtoll(..., 0) over the whole value:
    optional leading spaces and sign, then 0x hex, leading-0 octal or decimal. None when absent;
    XdrError when it is not an integer."""
    text = dict_str(data, key)
    if text is None:
        return None
    match = _STRTOLL.fullmatch(text)
    if match is None:
        raise XdrError(f"dict value of {key!r} is not an integer: {text!r}")
    sign, digits = match.groups()
    if digits[:2].lower() == "0x":
        number = int(digits[2:], 16)
    elif digits.startswith("0"):
        number = int(digits, 8)
    else:
        number = int(digits)
    return -number if sign == "-" else number


_STRTOLL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
