"""The object graph of a running glusterd2: store, SunRPC, supervisor, services.

Kept apart from gd2.daemon.main so that main stays light: this module (and the
FastAPI, etcd3/gRPC, volgen... it pulls in) is imported in a worker thread
while etcd boots.  Everything is built from explicit arguments here; nothing
registers itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
import trio

from gd2.commands.services import Services, build_services
from gd2.commands.volfiles import VolfileService
from gd2.commands.volume_options import OptionValidator
from gd2.config import Config
from gd2.daemons.base import DaemonBackend, DaemonSpec
from gd2.daemons.layout import NodePaths
from gd2.daemons.planner import Policy
from gd2.daemons.process import ProcessBackend
from gd2.daemons.supervisor import Supervisor
from gd2.daemons.systemd import SystemdBackend
from gd2.errors import GD2Error
from gd2.model.node import LocalNode
from gd2.store.etcd import EtcdStore
from gd2.sunrpc.portmap import PortmapRegistry
from gd2.sunrpc.server import SunrpcServer
from gd2.systemd import SystemdBus, choose_backend, system_bus_address
from gd2.xlators import load_table, xlator_dir

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Wired:
    store: EtcdStore
    registry: PortmapRegistry
    sunrpc: SunrpcServer
    supervisor: Supervisor
    validator: OptionValidator
    services: Services
    backend: str  # "process" or "systemd"
    systemd_bus: SystemdBus | None  # to be kept connected (SystemdBus.run) when backend is systemd


async def pick_backend(config: Config) -> str:
    """``daemon-backend``: systemd when forced, or (auto) when it is init and its bus answers."""
    return await choose_backend(config.daemon_backend, system_bus_address())


def wire(config: Config, node: LocalNode, endpoints: Sequence[str], backend_kind: str = "process") -> Wired:
    """Build every long-lived object of the daemon (nothing runs yet)."""
    store = EtcdStore(endpoints, f"gd2/{node.cluster_id}", rpc_timeout=config.store_timeout)
    paths = NodePaths(rundir=config.rundir, logdir=config.logdir, address=config.address,
                      sunrpc_port=config.sunrpc_port, peer_id=node.peer_id)
    registry = PortmapRegistry()
    volfiles = VolfileService(store, node, config.localstatedir)
    sunrpc = SunrpcServer(volfiles, registry)
    bus: SystemdBus | None = None
    backend: DaemonBackend
    if backend_kind == "systemd":
        bus = SystemdBus(system_bus_address(), call_timeout=config.store_timeout)
        backend = SystemdBackend(bus, start_timeout=config.brick_start_timeout,
                                 stop_timeout=config.shutdown_timeout)
    else:
        backend = ProcessBackend(start_timeout=config.brick_start_timeout)

    async def signed_in(spec: DaemonSpec) -> None:
        # A brick is ready once it has signed in over portmap; other daemons once they run.
        if spec.signs_in_as is not None:
            await registry.wait_signed_in(spec.signs_in_as)

    supervisor = Supervisor(backend, Policy(), ready=signed_in, ready_timeout=config.brick_start_timeout,
                            stop_grace=config.shutdown_timeout)
    validator = OptionValidator(pending=True)
    services = build_services(store, node, undo_timeout=config.shutdown_timeout, paths=paths, volfiles=volfiles,
                              backend=backend, registry=registry, notifier=sunrpc, validator=validator,
                              supervisor=supervisor)
    return Wired(store, registry, sunrpc, supervisor, validator, services, backend_kind, bus)


async def read_xlator_tables(config: Config, validator: OptionValidator) -> None:
    """Read the installed xlators' option tables (a child process; cached) in the background."""
    try:
        where = await trio.to_thread.run_sync(xlator_dir, config.xlator_dir)
        table = await trio.to_thread.run_sync(load_table, where, config.xlator_cache)
    except GD2Error as exc:
        log.warning("xlator option tables unavailable; option values are checked less strictly",
                    error=exc.message)
        validator.provide(None)
        return
    validator.provide(table)
