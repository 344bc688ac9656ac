"""etcd cluster membership as plain data: members, peer URLs, ``--initial-cluster``.

No I/O here.  :class:`gd2.store.etcd.EtcdStore` reads and changes the member
list; :class:`gd2.store.embedded.EtcdMember` starts a member with the
``initial_cluster`` these helpers build.  Which node should be a member is
the pool's policy (``gd2.commands``), not the store's.

How etcd 3.4 grows a cluster (each step checked against the real etcd):

1. ``add_member(peer_url)`` on the running cluster: the new member is listed
   with an empty name (``started`` is False) until its process first joins;
2. the new node wipes its data directory (:func:`gd2.store.embedded.reset_datadir`)
   and starts etcd with ``initial_state="existing"`` and
   :func:`join_initial_cluster` as ``initial_cluster``;
3. etcd refuses a second ``add_member`` while an added member has not
   started, and also until the leader has been connected to *every* member
   for 5 s (etcd's HealthInterval): callers retry on :class:`MembershipRefused`.
   A dead member must be removed before a replacement is added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gd2.errors import Conflict, InvalidRequest, NotFound, Unavailable


@dataclass(frozen=True)
class Member:
    """One member of the etcd cluster, as etcd lists it."""

    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]

    @property
    def started(self) -> bool:
        """etcd's own test: a member has a name once its process has joined."""
        return bool(self.name)


class MemberNotFound(NotFound):
    """No member has this id (never added, or already removed)."""


class MemberExists(Conflict):
    """A member with this peer URL (or id) is already in the cluster."""


class MembershipRefused(Conflict):
    """etcd refused to change the member list because quorum could be lost.

    etcd 3.4 (strict reconfig check) refuses an add while a member is not
    started or not connected to the leader for 5 s, and a remove that would
    leave fewer started members than a quorum.  Often transient: retry later,
    or remove the dead member first.
    """


class MemberRemoved(Unavailable):
    """This node's etcd member was removed from the cluster; its data dir is useless.

    etcd exits (status 0) when it learns it was removed, and exits again on
    every restart with the same data directory.
    """


def check_peer_url(url: str) -> str:
    """Return ``url`` if it is ``http://HOST:PORT`` (what etcd accepts); else InvalidRequest."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        port = None
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise InvalidRequest(f"etcd peer URL {url!r} is not http://HOST:PORT", {"peer_url": url})
    return url


def initial_cluster_string(cluster: Mapping[str, str | Sequence[str]]) -> str:
    """etcd's ``--initial-cluster`` value: ``name=url,name=url`` (names sorted)."""
    pairs: list[str] = []
    for name in sorted(cluster):
        urls = cluster[name]
        for url in [urls] if isinstance(urls, str) else urls:
            if not name or "=" in name or "," in name:
                raise InvalidRequest(f"etcd member name {name!r} cannot be used in --initial-cluster")
            pairs.append(f"{name}={check_peer_url(url)}")
    return ",".join(pairs)


def parse_initial_cluster(text: str) -> dict[str, tuple[str, ...]]:
    """The inverse of :func:`initial_cluster_string`."""
    cluster: dict[str, tuple[str, ...]] = {}
    for pair in filter(None, text.split(",")):
        name, sep, url = pair.partition("=")
        if not sep or not name:
            raise InvalidRequest(f"--initial-cluster entry {pair!r} is not name=URL")
        cluster[name] = (*cluster.get(name, ()), check_peer_url(url))
    return cluster


def join_initial_cluster(members: Sequence[Member], name: str, peer_url: str) -> dict[str, tuple[str, ...]]:
    """``initial_cluster`` for a member that was just added with ``peer_url`` and starts as ``name``.

    Every started member under its own name, plus the new one; what
    ``etcdctl member add`` prints as ETCD_INITIAL_CLUSTER.  The new member
    must already be in ``members`` (added, not started); list them with
    ``EtcdStore.members(require_quorum=False)``, as a 1 -> 2 member cluster
    has no quorum until the new member starts.
    """
    cluster = {m.name: m.peer_urls for m in members if m.started and peer_url not in m.peer_urls}
    if not any(peer_url in m.peer_urls for m in members):
        raise InvalidRequest(f"{peer_url} is not a member of the etcd cluster: add it before starting it")
    if name in cluster:
        raise MemberExists(f"an etcd member named {name!r} is already started with {', '.join(cluster[name])}")
    cluster[name] = (peer_url,)
    return cluster


def find_member(members: Sequence[Member], *, name: str | None = None, peer_url: str | None = None) -> Member | None:
    """The member with this name or peer URL, if any."""
    for member in members:
        if (name is not None and member.name == name) or (peer_url is not None and peer_url in member.peer_urls):
            return member
    return None


def quorum(voters: int) -> int:
    """How many members must be up for a cluster of ``voters`` to accept writes."""
    return voters // 2 + 1
