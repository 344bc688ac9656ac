"""The store: etcd behind an async, trio-friendly interface.

``Store`` is the interface the services use; ``EtcdStore`` is the real
adapter (etcd3's thread-based client bridged with ``trio.to_thread`` here and
nowhere else); ``gd2.testing.FakeStore`` is the in-memory fake that passes
the same conformance tests.
"""

from gd2.store.base import Change, Entry, Store

__all__ = ["Change", "Entry", "Store"]
