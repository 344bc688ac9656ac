"""Test support shipped as products.

``FakeStore`` passes the same conformance tests as the etcd adapter;
``DaemonProcess`` runs the real glusterd2 console entry point for tests and
benchmarks.  Nothing in the daemon imports this package.
"""

from gd2.testing.daemon import DaemonProcess, http_over_unix, venv_bin
from gd2.testing.fake_backend import FakeBackend
from gd2.testing.fake_peers import FakePeers
from gd2.testing.fake_store import FakeStore
from gd2.testing.mount import mounted

__all__ = ["DaemonProcess", "FakeBackend", "FakePeers", "FakeStore", "http_over_unix", "mounted", "venv_bin"]
