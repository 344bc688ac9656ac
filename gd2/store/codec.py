"""How values are encoded in etcd: msgpack maps with a schema version.

Every value is ``{"s": schema, "k": kind, "d": data}``.  The kind names what
the record is (``volume``, ``peer``...), so ``gd2ctl debug store`` can show any
key decoded, and the schema number lets a later glusterd2 migrate old records
instead of misreading them.  msgpack keeps values small (etcd has request and
quota limits) and is fast to decode on every list.
"""

from __future__ import annotations

from typing import Any

import msgpack

from gd2.errors import InternalError

SCHEMA_VERSION = 1


def encode(kind: str, value: Any) -> bytes:
    """Encode a plain-data value (dicts, lists, str, int, bool, None)."""
    packed: bytes = msgpack.packb({"s": SCHEMA_VERSION, "k": kind, "d": value}, use_bin_type=True)
    return packed


def decode(key: str, raw: bytes) -> tuple[str, int, Any]:
    """Return (kind, schema, data); a value that is not ours is an InternalError."""
    try:
        record = msgpack.unpackb(raw, raw=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise InternalError(f"store key {key!r} holds an undecodable value: {exc}") from None
    if not isinstance(record, dict) or not {"s", "k", "d"} <= record.keys():
        raise InternalError(f"store key {key!r} holds a value without a schema header")
    schema = record["s"]
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise InternalError(
            f"store key {key!r} has schema {schema!r}, newer than this glusterd2 ({SCHEMA_VERSION})"
        )
    return str(record["k"]), schema, record["d"]
