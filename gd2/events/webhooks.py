"""The webhooks of the pool: ``webhooks/<id>`` records and their delivery cursors.

A webhook's id is derived from its URL (the first 12 hex digits of the
SHA-256 of the normalised URL), so adding the same URL twice is refused by
one compare-and-swap, even from two nodes at once.  The secret is kept in the
record (the store is the pool's trust boundary, like the CA key) and never
listed: a listing says only whether there is one.

``webhook-cursors/<id>`` says how far delivery got (the store revision and
id of the last event delivered) and the current failure, if any.  It names
the revision of the webhook record it belongs to, so a cursor left by a
deleted webhook is never taken up by a new one with the same URL.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gd2.api.events import Webhook
from gd2.errors import Conflict, GD2Error, InvalidRequest, NotFound
from gd2.events import keys
from gd2.store import Entry, Store


def check_url(url: str) -> str:
    """The URL, normalised (scheme and host in lower case); InvalidRequest unless http(s)://HOST[:PORT]/..."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        if parts.port == 0:
            raise ValueError("port 0")
    except ValueError as exc:
        raise InvalidRequest(f"webhook URL {url!r} is invalid: {exc}", {"url": url}) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRequest(f"webhook URL {url!r} must start with http:// or https://", {"url": url})
    if not parts.hostname:
        raise InvalidRequest(f"webhook URL {url!r} has no host", {"url": url})
    if parts.fragment or any(c.isspace() for c in text):
        raise InvalidRequest(f"webhook URL {url!r} must not contain a #fragment or spaces", {"url": url})
    netloc = parts.netloc.rsplit("@", 1)
    netloc[-1] = netloc[-1].lower()
    return urlunsplit((parts.scheme.lower(), "@".join(netloc), parts.path or "/", parts.query, ""))


def webhook_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class WebhookRecord:
    id: str
    url: str
    secret: str | None
    created_at: str
    revision: int  # of the record: it is never updated, so this is when it was added

    @classmethod
    def from_entry(cls, entry: Entry) -> WebhookRecord:
        value = entry.value
        return cls(str(value["id"]), str(value["url"]), value.get("secret") or None, str(value.get("created_at", "")),
                   entry.mod_revision)


@dataclass(frozen=True)
class Cursor:
    """Delivery progress of one webhook."""

    webhook_revision: int
    revision: int  # store revision of the last event delivered (or of the webhook's creation)
    event: str | None = None
    error: str | None = None
    failing_since: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {"webhook_revision": self.webhook_revision, "revision": self.revision, "event": self.event,
                "error": self.error, "failing_since": self.failing_since}

    @classmethod
    def from_data(cls, value: Any) -> Cursor:
        return cls(int(value["webhook_revision"]), int(value["revision"]), value.get("event"), value.get("error"),
                   value.get("failing_since"))


class WebhookRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, url: str, secret: str | None) -> Webhook:
        normalised = check_url(url)
        wid = webhook_id(normalised)
        with contextlib.suppress(GD2Error):  # a cursor left by an earlier webhook of this URL
            await self._store.delete(keys.webhook_cursor(wid))
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        record = {"id": wid, "url": normalised, "secret": secret, "created_at": created_at}
        if not await self._store.create(keys.webhook(wid), keys.KIND_WEBHOOK, record):
            raise Conflict(f"webhook {normalised} already exists (id {wid})", {"url": normalised, "id": wid})
        return Webhook(id=wid, url=normalised, has_secret=secret is not None, created_at=created_at)

    async def records(self) -> list[WebhookRecord]:
        return [WebhookRecord.from_entry(e) for e in await self._store.list_prefix(keys.WEBHOOKS)]

    async def cursor(self, record: WebhookRecord) -> Cursor:
        """Where delivery to ``record`` stands (a new webhook: at its creation)."""
        entry = await self._store.get(keys.webhook_cursor(record.id))
        if entry is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                cursor = Cursor.from_data(entry.value)
                if cursor.webhook_revision == record.revision:
                    return cursor
        return Cursor(record.revision, record.revision)

    async def save_cursor(self, record_id: str, cursor: Cursor) -> None:
        await self._store.put(keys.webhook_cursor(record_id), keys.KIND_WEBHOOK_CURSOR, cursor.to_data())

    async def list(self) -> list[Webhook]:
        listed = []
        for record in sorted(await self.records(), key=lambda r: (r.created_at, r.url)):
            cursor = await self.cursor(record)
            listed.append(Webhook(id=record.id, url=record.url, has_secret=record.secret is not None,
                                  created_at=record.created_at, delivered=cursor.event,
                                  pending_since=cursor.failing_since, last_error=cursor.error))
        return listed

    async def find(self, ref: str) -> WebhookRecord | None:
        """The webhook with id or URL ``ref``."""
        candidates = [ref]
        with contextlib.suppress(InvalidRequest):
            candidates.append(webhook_id(check_url(ref)))
        for wid in candidates:
            if "/" in wid:
                continue
            entry = await self._store.get(keys.webhook(wid))
            if entry is not None:
                return WebhookRecord.from_entry(entry)
        return None

    async def delete(self, ref: str) -> WebhookRecord:
        record = await self.find(ref)
        if record is None:
            raise NotFound(f"no webhook {ref} (give its id or URL; see webhook-list)", {"webhook": ref})
        if not await self._store.delete(keys.webhook(record.id), mod_revision=record.revision):
            raise Conflict(f"webhook {record.url} changed while being deleted; try again", {"webhook": ref})
        with contextlib.suppress(GD2Error):  # a stale cursor is ignored anyway (webhook_revision)
            await self._store.delete(keys.webhook_cursor(record.id))
        return record
