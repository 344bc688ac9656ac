"""Brick port allocation: never a port of ours, never a port something has bound."""

from __future__ import annotations

import random
import socket

import pytest

from gd2.daemons.ports import allocate_port, port_is_free
from gd2.errors import Unavailable


def test_skips_ports_we_hold_and_ports_bound_by_others() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        bound = squatter.getsockname()[1]
        low = bound - 2
        ours = {bound - 2, bound - 1}
        port = allocate_port("127.0.0.1", ours, rng=random.Random(0), low=low, high=bound + 1)
        assert port == bound + 1  # the only port in range that is neither ours nor bound
        assert not port_is_free("127.0.0.1", bound)


def test_no_port_left_is_a_clear_error() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        bound = squatter.getsockname()[1]
        with pytest.raises(Unavailable, match="no free brick port"):
            allocate_port("127.0.0.1", {bound + 1}, low=bound, high=bound + 1)


def test_result_is_in_range_and_free() -> None:
    for seed in range(5):
        port = allocate_port("127.0.0.1", set(), rng=random.Random(seed))
        assert 49152 <= port <= 60999
