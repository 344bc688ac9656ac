"""etcd membership as plain data: peer URLs, --initial-cluster, the join cluster; the listen probe."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gd2.errors import InvalidRequest
from gd2.store.embedded import EtcdMember, process_listens
from gd2.store.membership import (
    Member,
    MemberExists,
    check_peer_url,
    find_member,
    initial_cluster_string,
    join_initial_cluster,
    parse_initial_cluster,
    quorum,
)
from gd2.store.tls import EtcdTLS

TEST_NET = int(os.environ.get("GD2_TEST_NET", "0"))
A = Member(1, "a", ("http://10.0.0.1:2380",), ("http://10.0.0.1:2379",))
B = Member(2, "b", ("http://10.0.0.2:2380",), ("http://10.0.0.2:2379",))
C_ADDED = Member(3, "", ("http://10.0.0.3:2380",), ())


@pytest.mark.parametrize("url", ["http://10.0.0.1:2380", "https://host:1", "http://[::1]:2380", "http://h:2380/"])
def test_good_peer_urls(url: str) -> None:
    assert check_peer_url(url) == url


@pytest.mark.parametrize("url", ["", "10.0.0.1:2380", "http://10.0.0.1", "unix:///x", "http://h:99999",
                                 "http://h:2380/path", "http://:2380", "not a url"])
def test_bad_peer_urls(url: str) -> None:
    with pytest.raises(InvalidRequest, match="peer URL") as caught:
        check_peer_url(url)
    assert caught.value.fields == {"peer_url": url}


def test_initial_cluster_round_trip() -> None:
    cluster = {"b": "http://10.0.0.2:2380", "a": ("http://10.0.0.1:2380", "http://10.1.0.1:2380")}
    text = initial_cluster_string(cluster)
    assert text == "a=http://10.0.0.1:2380,a=http://10.1.0.1:2380,b=http://10.0.0.2:2380"
    assert parse_initial_cluster(text) == {"a": ("http://10.0.0.1:2380", "http://10.1.0.1:2380"),
                                           "b": ("http://10.0.0.2:2380",)}


@pytest.mark.parametrize("cluster", [{"": "http://h:1"}, {"a=b": "http://h:1"}, {"a,b": "http://h:1"},
                                     {"a": "h:1"}])
def test_initial_cluster_refuses_what_etcd_would_misparse(cluster: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        initial_cluster_string(cluster)


def test_parse_initial_cluster_refuses_garbage() -> None:
    with pytest.raises(InvalidRequest, match="name=URL"):
        parse_initial_cluster("a=http://h:1,http://h:2")


def test_join_initial_cluster_is_the_started_members_plus_the_new_one() -> None:
    cluster = join_initial_cluster([A, B, C_ADDED], "c", "http://10.0.0.3:2380")
    assert cluster == {"a": A.peer_urls, "b": B.peer_urls, "c": ("http://10.0.0.3:2380",)}
    assert not C_ADDED.started and A.started


def test_join_needs_the_member_added_first_and_a_free_name() -> None:
    with pytest.raises(InvalidRequest, match="add it before"):
        join_initial_cluster([A, B], "c", "http://10.0.0.3:2380")
    with pytest.raises(MemberExists, match="'a'"):
        join_initial_cluster([A, B, C_ADDED], "a", "http://10.0.0.3:2380")


def test_find_member_and_quorum() -> None:
    assert find_member([A, B, C_ADDED], name="b") is B
    assert find_member([A, B, C_ADDED], peer_url="http://10.0.0.3:2380") is C_ADDED
    assert find_member([A, B], name="c") is None
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def _member(tmp_path: Path, **changes: object) -> EtcdMember:
    base = dict(name="n1", address="10.0.0.1", client_port=2379, peer_port=2380, datadir=tmp_path / "d",
                logfile=tmp_path / "l", pidfile=tmp_path / "p", cluster_token="t",
                tls=EtcdTLS(tmp_path / "ca.pem", tmp_path / "node.pem", tmp_path / "node.key"))
    base.update(changes)
    return EtcdMember(**base)  # type: ignore[arg-type]


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_single_member_command_is_unchanged(tmp_path: Path) -> None:
    command = _member(tmp_path).command()
    assert _flag(command, "--initial-cluster") == "n1=https://10.0.0.1:2380"
    assert _flag(command, "--initial-cluster-state") == "new"
    assert (_flag(command, "--heartbeat-interval"), _flag(command, "--election-timeout")) == ("25", "250")


def test_every_etcd_url_is_https_with_client_certificates(tmp_path: Path) -> None:
    member = _member(tmp_path)
    command = member.command()
    for flag in ("--listen-client-urls", "--advertise-client-urls"):
        assert _flag(command, flag) == member.client_url == "https://10.0.0.1:2379"
    for flag in ("--listen-peer-urls", "--initial-advertise-peer-urls"):
        assert _flag(command, flag) == member.peer_url == "https://10.0.0.1:2380"
    assert "--client-cert-auth" in command and "--peer-client-cert-auth" in command
    for flag in ("--trusted-ca-file", "--peer-trusted-ca-file"):
        assert _flag(command, flag) == str(tmp_path / "ca.pem")
    for flag in ("--cert-file", "--peer-cert-file"):
        assert _flag(command, flag) == str(tmp_path / "node.pem")
    for flag in ("--key-file", "--peer-key-file"):
        assert _flag(command, flag) == str(tmp_path / "node.key")
    assert not any("http://" in arg for arg in command)
    with pytest.raises(ValueError, match="CA file"):
        _member(tmp_path, tls=EtcdTLS(None, tmp_path / "c", tmp_path / "k"))


def test_joining_member_command(tmp_path: Path) -> None:
    cluster = join_initial_cluster([A, B, C_ADDED], "n3", "http://10.0.0.3:2380")
    member = _member(tmp_path, name="n3", address="10.0.0.3", initial_cluster=cluster, initial_state="existing")
    command = member.command()
    assert _flag(command, "--initial-cluster") == ("a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,"
                                                  "n3=http://10.0.0.3:2380")
    assert _flag(command, "--initial-cluster-state") == "existing"
    as_text = _member(tmp_path, initial_cluster="x=http://h:1", initial_state="existing")
    assert _flag(as_text.command(), "--initial-cluster") == "x=http://h:1"
    assert not member.has_data()


def test_process_listens_sees_only_its_own_listening_socket() -> None:
    address = f"127.0.{TEST_NET}.99"
    with socket.socket() as listener:
        listener.bind((address, 0))
        port = listener.getsockname()[1]
        assert not process_listens(os.getpid(), address, port)  # bound, not listening
        listener.listen()
        assert process_listens(os.getpid(), address, port)
        assert not process_listens(1, address, port)  # somebody else's port
        assert not process_listens(os.getpid(), address, port + 1 if port < 65535 else port - 1)
    assert not process_listens(os.getpid(), address, port)
