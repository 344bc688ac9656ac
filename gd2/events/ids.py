"""Event ids that sort by time: ``<µs since the epoch, 16 hex>-<node>-<counter, 6 hex>``.

The time is the emitting node's clock, kept monotonic per process; the node
part (the first 8 characters of its peer id) and the counter make ids unique
across the pool and within one microsecond.  Ids order events for `GET
/v1/events?since=`; delivery to webhooks follows etcd's revisions instead,
which no clock skew can reorder.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

ID_PATTERN = re.compile(r"^[0-9a-f]{16}-[0-9A-Za-z]{1,16}-[0-9a-f]{6}$")


def is_event_id(text: str) -> bool:
    return ID_PATTERN.fullmatch(text) is not None


def node_tag(peer_id: str) -> str:
    tag = "".join(c for c in peer_id if c.isalnum())[:8]
    return tag or "node"


class IdMaker:
    """Makes this node's event ids: strictly increasing even if the clock steps back."""

    def __init__(self, peer_id: str) -> None:
        self._tag = node_tag(peer_id)
        self._last_us = 0
        self._counter = 0

    def next(self, time_ns: int) -> tuple[str, datetime]:
        """The id for an event at ``time_ns`` (ns since the epoch), and the time it records."""
        now_us = max(time_ns // 1000, self._last_us)
        self._counter = (self._counter + 1) % 0x1000000
        if now_us == self._last_us and self._counter == 0:
            now_us += 1  # 16M events within one microsecond: move on rather than repeat an id
        self._last_us = now_us
        when = datetime.fromtimestamp(now_us / 1_000_000, UTC)
        return f"{now_us:016x}-{self._tag}-{self._counter:06x}", when


def format_time(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
