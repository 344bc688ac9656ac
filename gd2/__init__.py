"""glusterd2: the management daemon for GlusterFS, GlusterD-2.0 in Python.

The package is layered (see docs/architecture.md); a module imports only from
its own layer or below:

    L3 entry points  gd2.daemon gd2.rest gd2.cli
    L2 services      gd2.commands gd2.txn
    L1 adapters      gd2.store gd2.brickfs gd2.log
    L0 pure          gd2.api gd2.model gd2.config gd2.errors gd2.xdr
"""

__version__ = "0.1.0"
