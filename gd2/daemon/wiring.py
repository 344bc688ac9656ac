"""The object graph of a running glusterd2: store, SunRPC, supervisor, services.

Kept apart from gd2.daemon.main so that main stays light: this module (and the
FastAPI, etcd3/gRPC, volgen... it pulls in) is imported in a worker thread
while etcd boots.  Everything is built from explicit arguments here; nothing
registers itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
import trio

from gd2.commands.brick_state import BrickPublisher
from gd2.commands.hooks import VolumeHooks
from gd2.commands.peers import PeerService
from gd2.commands.pool import PROMOTE_STEP, NodePorts, PoolService
from gd2.commands.pool_hooks import PoolHooks
from gd2.commands.remote_steps import PeerStepExecutor
from gd2.commands.services import Services, build_services
from gd2.commands.volfile_changes import VolfileChanges
from gd2.commands.volfiles import VolfileService
from gd2.commands.volume_options import OptionValidator
from gd2.config import Config
from gd2.daemon.eventing import EventParts, build_events, daemon_notice
from gd2.daemon.membership import Membership
from gd2.daemon.state import PoolState, save_pool
from gd2.daemons.base import DaemonBackend, DaemonSpec
from gd2.daemons.layout import NodePaths
from gd2.daemons.planner import Policy
from gd2.daemons.process import ProcessBackend
from gd2.daemons.supervisor import Supervisor
from gd2.daemons.systemd import SystemdBackend
from gd2.errors import GD2Error, Unavailable
from gd2.hooks import HookRunner, hook_environment
from gd2.model.node import LocalNode
from gd2.peer import PeerServer, TLSMaterial
from gd2.store.etcd import EtcdStore
from gd2.store.tls import EtcdTLS
from gd2.sunrpc.portmap import PortmapRegistry
from gd2.sunrpc.server import SunrpcServer
from gd2.systemd import SystemdBus, choose_backend, system_bus_address
from gd2.txn import Coordinator, LocalExecutor, RoutingExecutor, StepRegistry, recover
from gd2.txn.faults import ENV as FAULT_ENV
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
    coordinator: Coordinator
    executor: RoutingExecutor
    remote_steps: PeerStepExecutor
    peer_server: PeerServer
    brick_state: BrickPublisher  # publishes this node's brick sign-ins (run it in the nursery)
    hooks: VolumeHooks  # hook scripts; its task runs the post scripts (run it in the nursery)
    events: EventParts  # the event stream: publisher, feed, webhook delivery (run it in the nursery)
    pool_hooks: PoolHooks  # hands hook scripts to the other nodes (run it in the nursery)


async def pick_backend(config: Config) -> str:
    """``daemon-backend``: systemd when forced, or (auto) when it is init and its bus answers."""
    return await choose_backend(config.daemon_backend, system_bus_address())


def wire(config: Config, node: LocalNode, endpoints: Sequence[str], backend_kind: str, *, pool: PoolState,
         tls: TLSMaterial, store_tls: EtcdTLS | None, restart: Callable[[], None]) -> Wired:
    """Build every long-lived object of the daemon (nothing runs yet)."""
    store = EtcdStore(endpoints, f"gd2/{node.cluster_id}", rpc_timeout=config.store_timeout, tls=store_tls)
    paths = NodePaths(rundir=config.rundir, logdir=config.logdir, address=config.address,
                      sunrpc_port=config.sunrpc_port, peer_id=node.peer_id)
    registry = PortmapRegistry()
    volfiles = VolfileService(store, node, config.localstatedir)
    brick_state = BrickPublisher(store, node, registry)  # for PORTBYBRICK of other nodes' bricks, too
    sunrpc = SunrpcServer(volfiles, registry, brick_ports=brick_state, call_timeout=config.sunrpc_call_timeout)
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

    events = build_events(config, store, node)
    supervisor = Supervisor(backend, Policy(), ready=signed_in, ready_timeout=config.brick_start_timeout,
                            stop_grace=config.shutdown_timeout, notice=daemon_notice(events.publisher))
    validator = OptionValidator(pending=True)

    # Transactions: every node registers the same steps; other nodes' steps go over the peer protocol.
    steps = StepRegistry()
    local = LocalExecutor(steps, node.peer_id)
    remote = PeerStepExecutor(store, lambda: tls)
    executor = RoutingExecutor(local, remote)
    coordinator = Coordinator(store, executor, node.peer_id, node.name, undo_timeout=config.shutdown_timeout,
                              fault_point=os.environ.get(FAULT_ENV) or None)
    peers = PeerService(store, node, peer_port=config.peer_port, etcd_role=pool.etcd_role)
    ports = NodePorts(peer_port=config.peer_port, join_port=config.join_port,
                      etcd_peer_url=f"https://{config.address}:{config.etcd_peer_port}",
                      etcd_client_url=f"https://{config.address}:{config.etcd_client_port}")
    pool_service = PoolService(store, store if config.embedded_etcd else None, node, peers, lambda: tls,
                               etcd_members=config.etcd_members, join_port=config.join_port,
                               join_timeout=config.etcd_start_timeout * 4,
                               member_grace=config.etcd_member_grace)
    # A hook script that calls gd2ctl reaches this daemon through GD2_SOCKET.
    hooks = VolumeHooks(HookRunner(timeout=config.hook_timeout,
                                   env=hook_environment(os.environ, config.socket_path)),
                        store, root=config.localstatedir / "hooks", workdir=config.localstatedir,
                        refuse_on_pre_failure=config.pre_hook_failure == "refuse")
    # ...on every node of the pool, as glusterd1 runs them (the other nodes through a step).
    # Only other nodes, and best effort: a node that refuses now (dead, restarting) is skipped at once.
    pool_hooks = PoolHooks(hooks, peers, remote.once(), node.peer_id, call_timeout=config.hook_timeout + 10)
    for step in pool_hooks.steps():
        steps.add(step)
    services = build_services(store, node, paths=paths, volfiles=volfiles, backend=backend, registry=registry,
                              notifier=sunrpc, validator=validator, supervisor=supervisor,
                              coordinator=coordinator, steps=steps, peers=peers, pool=pool_service,
                              brick_state=brick_state, hooks=pool_hooks, events=events.service)
    membership = Membership(node=node, store=store, executor=local, ports=ports,
                            localstatedir=config.localstatedir, restart=restart)
    steps.register(PROMOTE_STEP, membership.become_etcd_member)
    peer_server = PeerServer(membership, tls, address=config.address, peer_port=config.peer_port,
                             join_port=config.join_port, stop_grace=1.0)
    return Wired(store, registry, sunrpc, supervisor, validator, services, backend_kind, bus, coordinator,
                 executor, remote, peer_server, brick_state, hooks, events, pool_hooks)


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


async def recover_transactions(wired: Wired, *, own: bool) -> None:
    """Roll back transactions whose initiator died (``own``: this node, at start)."""
    store, node = wired.store, wired.services.node

    async def is_alive(peer_id: str) -> bool:
        return await store.get(f"alive/{peer_id}") is not None

    try:
        undone = await recover(store, wired.executor, node.peer_id, is_alive, own=own,
                               undo_timeout=wired.coordinator.undo_timeout)
    except GD2Error as exc:
        if own and isinstance(exc, Unavailable):
            raise  # at start, before serving: the caller retries while etcd settles
        log.warning("cannot recover transactions now", error=exc.message)
        return
    if undone:
        log.warning("rolled back unfinished transactions", txnids=undone)


async def keep_pool(wired: Wired, interval: float, localstatedir: Path, pool: PoolState,
                    restart: trio.Event) -> None:
    """Every ``interval``: roll back transactions of dead initiators; keep etcd at its wanted size;
    remember where the etcd members are (for a restart after this node's own member was replaced)."""
    while True:
        await trio.sleep(interval)
        await recover_transactions(wired, own=False)
        await wired.services.pool.keep_etcd_members()
        try:
            urls = tuple(url for m in await wired.store.members() for url in m.client_urls)
        except GD2Error:
            continue
        if urls:  # fail over to every current member, this node's own first
            own = [u for u in wired.store.endpoints if u in urls][:1]
            wired.store.set_endpoints(tuple(dict.fromkeys((*own, *urls))))
        if urls and urls != pool.endpoints and not restart.is_set():  # a join/leave/promotion owns pool.json now
            pool = replace(pool, endpoints=urls)
            save_pool(localstatedir, pool)


async def announce_volfile_changes(wired: Wired) -> None:
    """FETCHSPEC to this node's processes when another node changes a volume's graph."""
    await VolfileChanges(wired.store, wired.sunrpc).run()
