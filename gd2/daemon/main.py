"""glusterd2's composition root: everything is built here, in start order.

Read top to bottom, ``_serve`` is the start sequence:

1. directories, node identity, REST secret
2. the store: our own etcd child (default) or external endpoints; meanwhile
   the xlator option tables are read (a child process, cached)
3. the SunRPC server (GETSPEC, portmap) for GlusterFS processes
4. this node in the pool, its liveness lease
5. the REST API on the Unix socket (0600) and on TCP (bearer token)
6. READY=1, then wait for SIGTERM/SIGINT

A join, leave or etcd promotion starts the sequence over in-process
(``daemon_main``); the API's listeners stay open through that (gd2.daemon.listeners).

The modules behind the API (FastAPI, etcd3/gRPC) take most of a second to
import, so they are imported in a worker thread while etcd boots.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import structlog
import trio

import gd2
from gd2.api.token import derive_token
from gd2.config import Config, load_config
from gd2.daemon.listeners import ApiListeners
from gd2.daemon.logsetup import configure_logging
from gd2.daemon.notify import notify, status, watchdog_loop
from gd2.daemon.state import (
    TLS_DIR,
    PoolState,
    has_tls,
    load_or_create_node,
    load_or_create_secret,
    load_pool,
    node_etcd_tls,
    private_dir,
    save_pool,
)
from gd2.errors import ConfigError, GD2Error, Unavailable
from gd2.store.embedded import EmbeddedEtcd, EtcdMember, etcd_binary_available, reset_datadir
from gd2.store.membership import MemberRemoved
from gd2.store.tls import EtcdTLS, EtcdTLSError, check_files

log = structlog.get_logger("gd2.daemon")

_HEAVY_MODULES = ("gd2.daemon.wiring", "gd2.daemon.tls", "gd2.rest.app", "gd2.rest.server", "gd2.rest.gateway",
                  "gd2.sunrpc.server", "gd2.daemon.plugging")


def _make_dirs(config: Config) -> None:
    for path, mode in ((config.localstatedir, 0o755), (config.rundir, 0o755), (config.logdir, 0o755)):
        try:
            path.mkdir(mode=mode, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    private_dir(config.localstatedir / TLS_DIR)  # the node key and (at birth) the CA key


def _store_tls(config: Config) -> EtcdTLS | None:
    """How this node reaches etcd: its own certificate from the pool CA, or the external etcd's settings."""
    if config.embedded_etcd:
        return node_etcd_tls(config.localstatedir)
    if config.etcd_endpoints[0].startswith("http:"):
        return None  # plain http, as the admin said (etcd-allow-http; gd2.config checked it)
    if config.etcd_cert_file is None:
        log.warning("etcd is reached without a client certificate: unless it checks who asks, anyone who "
                    "reaches it can read the pool CA's key", endpoints=",".join(config.etcd_endpoints))
    tls = EtcdTLS(config.etcd_ca_file, config.etcd_cert_file, config.etcd_key_file)
    problem = check_files(tls)
    if problem is not None:
        raise ConfigError(f"etcd TLS (etcd-ca-file, etcd-cert-file, etcd-key-file): {problem}")
    if config.etcd_key_file is not None and config.etcd_key_file.stat().st_mode & 0o077:
        log.warning("etcd-key-file can be read by other users than its owner; make it 0600",
                    file=str(config.etcd_key_file))
    return tls


def _refuse_if_socket_in_use(path: Path) -> None:
    """Two daemons must never share a rundir: the second would steal the socket."""
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return  # stale socket from a crash: hypercorn replaces it
    finally:
        probe.close()
    raise ConfigError(f"another glusterd2 is already serving on {path}")


def _import_heavy() -> dict[str, Any]:
    return {name: importlib.import_module(name) for name in _HEAVY_MODULES}


async def _serve(config: Config, nursery: trio.Nursery, last: trio.Nursery, restart: trio.Event,
                 listeners: ApiListeners) -> None:
    """The start sequence.  Services run in ``nursery``; this node's etcd member in ``last``, which
    is cancelled only once ``nursery`` is done, so every service's cleanup (lease revokes, the
    transaction journal) still finds etcd up."""
    _make_dirs(config)
    if not listeners.listening:
        _refuse_if_socket_in_use(config.socket_path)
    node = load_or_create_node(config.localstatedir, config.address)
    pool = load_pool(config.localstatedir)
    if config.embedded_etcd:
        pool = _https_urls(pool)  # written by a glusterd2 whose etcd spoke plain http
    secret = load_or_create_secret(config.auth_file)
    log.info("starting glusterd2", version=gd2.__version__, peer_id=node.peer_id,
             cluster_id=node.cluster_id, address=config.address, etcd=pool.etcd_role)

    modules: dict[str, Any] = {}

    async def import_heavy() -> None:
        modules.update(await trio.to_thread.run_sync(_import_heavy))

    store_tls = _store_tls(config)
    if not has_tls(config.localstatedir):
        # A pool's birth (first start, or after leaving a pool): etcd serves with this node's
        # certificate from the new CA, so they are made first (the module is slow to import: only then).
        await trio.to_thread.run_sync(lambda: importlib.import_module("gd2.daemon.tls").load_or_create_tls(
            config.localstatedir, node))
    etcd: EmbeddedEtcd | None = None
    async with trio.open_nursery() as boot:
        boot.start_soon(import_heavy)
        if config.embedded_etcd and pool.etcd_role == "member":
            if not etcd_binary_available(config.etcd_binary):
                raise ConfigError(f"etcd binary {config.etcd_binary!r} not found "
                                  "(install etcd-server, or set etcd-endpoints)")
            assert store_tls is not None
            member = EtcdMember(
                name=node.peer_id, address=config.address, client_port=config.etcd_client_port,
                peer_port=config.etcd_peer_port, datadir=config.etcd_datadir,
                logfile=config.logdir / "etcd.log", pidfile=config.rundir / "etcd.pid",
                cluster_token=node.cluster_id, tls=store_tls, binary=config.etcd_binary,
            )
            etcd = EmbeddedEtcd(replace(
                member, initial_cluster=pool.initial_cluster or {node.peer_id: member.peer_url},
                initial_state="existing" if pool.initial_state == "existing" else "new",
            ), start_timeout=config.etcd_start_timeout, stop_grace=config.shutdown_timeout)
            if pool.reset_etcd:
                reset_datadir(etcd.member)  # a new membership starts from an empty data dir
            # A member of a bigger cluster has no quorum until enough members run
            # (a whole-pool restart brings them up in any order): wait for that below.
            alone = len(pool.initial_cluster) <= 1

            def removed() -> None:
                # Replaced while this node was away: carry on as a client of the remaining members
                # (unless it is leaving the pool altogether: that restart was asked for already).
                if restart.is_set():
                    return
                own_client = member.client_url
                others = tuple(url for url in pool.endpoints if url != own_client)
                save_pool(config.localstatedir, PoolState(etcd_role="client", endpoints=others))
                restart.set()

            await last.start(partial(_etcd_member, etcd, alone, removed))
            if pool.reset_etcd:  # done: from now on this data dir *is* the member
                pool = replace(pool, reset_etcd=False)
                save_pool(config.localstatedir, pool)
    own = (etcd.member.client_url,) if etcd is not None else ()
    endpoints = config.etcd_endpoints or tuple(dict.fromkeys((*own, *pool.endpoints)))
    if not endpoints:
        raise ConfigError("this node uses the pool's etcd but knows no endpoint; see "
                          f"{config.localstatedir / 'pool.json'}")

    tls_state = modules["gd2.daemon.tls"]
    tls, ca = await trio.to_thread.run_sync(tls_state.load_or_create_tls, config.localstatedir, node)
    wiring = modules["gd2.daemon.wiring"]

    def restart_soon() -> None:
        restart.set()

    wired = wiring.wire(config, node, endpoints, await wiring.pick_backend(config), pool=pool, tls=tls,
                        store_tls=store_tls, restart=restart_soon)
    quorum_wait = config.store_timeout if len(pool.initial_cluster) <= 1 else config.etcd_start_timeout * 4
    refused: Unavailable | None = None
    try:
        with trio.fail_after(quorum_wait):
            if etcd is not None and len(pool.initial_cluster) > 1:
                status("waiting for etcd quorum")
                await etcd.wait_quorum()
            while True:  # an etcd just started may refuse for a moment
                try:
                    await wired.store.ping()
                    break
                except EtcdTLSError:
                    raise  # a certificate refused: waiting changes nothing
                except Unavailable as exc:
                    refused = exc
                    await trio.sleep(0.2)
    except trio.TooSlowError:
        raise Unavailable(f"etcd at {', '.join(endpoints)} did not answer within {quorum_wait:g}s"
                          + (f" ({refused.message})" if refused is not None else "")) from None
    if etcd is not None:
        await _advertise_https_peer_url(wired.store, etcd.member)
    services, supervisor = wired.services, wired.supervisor
    if ca is not None:
        await services.pool.publish_ca(ca)  # the pool is born here: its CA goes where members find it
    # Not on the way to READY: only `volume set` needs the tables, and it waits for them.
    nursery.start_soon(wiring.read_xlator_tables, config, wired.validator)
    # Bricks left running by a previous glusterd2 reconnect and sign in again
    # within ~3 s of this listener coming up (GLUSTER_PROTOCOL.md §4.3).
    await nursery.start(lambda task_status: modules["gd2.sunrpc.server"].serve_sunrpc(
        wired.sunrpc, config.address, config.sunrpc_port, config.rundir / "glusterd.socket",
        task_status=task_status))
    nursery.start_soon(wiring.announce_volfile_changes, wired)
    if wired.systemd_bus is not None:
        # Unit state changes wake the supervisor at once (a brick killed is restarted after its backoff).
        await nursery.start(wired.systemd_bus.run, lambda _unit: supervisor.poke())
    await nursery.start(supervisor.run)
    # Just after a join or promotion, etcd may still be settling its new member (a leader election,
    # deadlines on writes and leases for a few seconds): each step that needs it retries, bounded.
    settle = partial(_settling, until=trio.current_time() + max(quorum_wait, 30.0))
    await settle("record this node", services.peers.register_self)
    await settle("publish brick state", lambda: nursery.start(wired.brick_state.run, 10))  # for the other nodes
    await settle("start hooks", lambda: nursery.start(wired.hooks.run))  # post hooks, after their ops' locks
    await settle("start pool hooks", lambda: nursery.start(wired.pool_hooks.run))  # ...and other nodes' hooks
    await settle("start events", lambda: nursery.start(wired.events.run))  # publisher, feed, webhook delivery
    try:
        await nursery.start(wired.peer_server.serve)
    except GD2Error:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot listen on {config.address}:{config.peer_port}/{config.join_port}: "
                          f"{exc}") from None
    # Transactions this node started and did not finish (it died): roll them back before serving.
    await settle("recover transactions", lambda: wiring.recover_transactions(wired, own=True))
    nursery.start_soon(wiring.keep_pool, wired, config.pool_check_interval, config.localstatedir, pool, restart)

    # Plugins (docs/plugins.md): probed, started in dependency order (bounded), then their daemons and events.
    plugging = modules["gd2.daemon.plugging"]
    plugins = plugging.wire_plugins(config, node, wired)
    await nursery.start(plugins.run)

    rest_app = modules["gd2.rest.app"]
    api = rest_app.create_api(services, config.request_timeout)
    plugging.mount(api, plugins, config.request_timeout)
    await listeners.serve_local(rest_app.local_app(api))
    if config.rest_port:
        tls_dir = config.localstatedir / TLS_DIR  # the node's certificate from its pool's CA: https only
        await listeners.serve_tcp(rest_app.remote_app(api, derive_token(secret)),
                                  certfile=tls_dir / "node.pem", keyfile=tls_dir / "node.key")
    # Online from here: `alive/<id>` means this node answers its API (a `peer add` waits for it).
    await settle("mark this node online", lambda: nursery.start(services.peers.keep_alive, 10))
    # Daemons of started volumes: adopted if they outlived us, started again if they did not.
    if not await services.runtime.resume():
        nursery.start_soon(services.runtime.keep_resuming, 2.0)
    await nursery.start(watchdog_loop)
    notify("READY=1")
    status(f"serving; etcd {','.join(endpoints)} ({pool.etcd_role}); daemons as {wired.backend}")
    log.info("glusterd2 ready", socket=str(config.socket_path),
             rest=f"{config.address}:{config.rest_port}" if config.rest_port else "off",
             etcd=",".join(endpoints), daemons=wired.backend)


def _https_urls(pool: PoolState) -> PoolState:
    """The pool's etcd URLs as https (the embedded etcd speaks nothing else)."""
    def https(url: str) -> str:
        return "https://" + url.removeprefix("http://") if url.startswith("http://") else url

    return replace(pool, endpoints=tuple(https(u) for u in pool.endpoints),
                   initial_cluster={name: https(url) for name, url in pool.initial_cluster.items()})


async def _advertise_https_peer_url(store: Any, member: EtcdMember) -> None:
    """A data dir made when etcd spoke plain http still names this member's peer URL as http: members
    joining later would be told it.  Correct it (a cluster of one can; a bigger one could not meet)."""
    try:
        own = next((m for m in await store.members() if m.name == member.name), None)
        if own is not None and own.peer_urls != (member.peer_url,):
            await store.update_member(own.id, member.peer_url)
            log.warning("etcd member's peer URL changed to https", was=",".join(own.peer_urls),
                        peer_url=member.peer_url)
    except GD2Error as exc:
        log.warning("cannot check this etcd member's peer URL", error=exc.message)


async def _settling(what: str, step: Callable[[], Awaitable[object]], *, until: float) -> None:
    """Run a startup step that needs etcd, again (every 0.5 s) while etcd is unavailable, until ``until``.

    A step that raises before it started leaves its nursery untouched, so it can be started again.
    """
    while trio.current_time() < until:
        try:
            await step()
            return
        except Unavailable as exc:
            log.info("etcd is settling; retrying", step=what, error=exc.message)
            await trio.sleep(0.5)
    await step()  # a last try: its error, if any, is the one to report


async def _etcd_member(etcd: EmbeddedEtcd, need_quorum: bool, removed: Callable[[], None], *,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run this node's etcd member; if the pool removed it, call ``removed`` instead of failing."""
    started = False

    class _Started:
        @staticmethod
        def started(value: None = None) -> None:
            nonlocal started
            started = True
            task_status.started()

    try:
        await etcd.run(need_quorum=need_quorum, task_status=_Started())
    except MemberRemoved as exc:
        log.warning("this node's etcd member was removed from the pool; becoming a client", error=exc.message)
        removed()
        if not started:
            task_status.started()
        await trio.sleep_forever()  # the restart that ``removed`` asked for cancels this


async def _restart_when(restart: trio.Event, cancel_scope: trio.CancelScope, listeners: ApiListeners) -> None:
    """A join, leave or promotion changed what this node is: start over once the reply is out."""
    await restart.wait()
    await trio.sleep(0.3)
    log.info("restarting with the new pool settings")
    listeners.pause()  # requests from now on wait for the restarted services...
    await listeners.drain()  # ...and those being answered finish first
    notify("RELOADING=1")
    cancel_scope.cancel()


async def _wait_for_signal(signals: Any, cancel_scope: trio.CancelScope, shutdown: trio.Event) -> None:
    async for signum in signals:
        log.info("stopping glusterd2", signal=signal.Signals(signum).name)
        notify("STOPPING=1")
        shutdown.set()
        cancel_scope.cancel()
        return


def _leaves(error: BaseException) -> list[BaseException]:
    """The actual errors inside (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


async def daemon_main(config: Config) -> int:
    """Run the daemon until SIGTERM/SIGINT; returns the process exit status."""
    shutdown = trio.Event()
    failures: list[BaseException] = []
    # Whatever trio's receiver restores when it closes is what a late SIGTERM
    # meets while we exit: make that "ignore", not "die", so a second signal
    # can never cut the shutdown short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as outer:  # what outlives an in-process restart: the API listeners
            listeners = ApiListeners(config, outer, shutdown)
            while not shutdown.is_set():
                restart = trio.Event()
                try:
                    async with trio.open_nursery() as last:  # etcd: stopped after everything using it
                        async with trio.open_nursery() as nursery:
                            nursery.start_soon(_wait_for_signal, signals, nursery.cancel_scope, shutdown)
                            nursery.start_soon(_restart_when, restart, nursery.cancel_scope, listeners)
                            await _serve(config, nursery, last, restart, listeners)
                        last.cancel_scope.cancel()
                except* GD2Error as group:
                    failures.extend(_leaves(group))
                listeners.pause()
                if failures or not restart.is_set():
                    break
            listeners.stop()  # requests still waiting are answered 503, then the listeners close
            shutdown.set()
            outer.cancel_scope.deadline = trio.current_time() + 1.0
    for exc in failures:
        log.error("glusterd2 cannot start", error=str(exc))
        print(f"glusterd2: {exc}", file=sys.stderr)
    log.info("glusterd2 stopped")
    return 1 if failures else 0


def _raise_fd_limit() -> None:
    """Every client, brick and API caller holds a file descriptor here: take the hard limit.

    The usual soft limit of 1,024 is reached by a thousand idle connections (then accept
    fails and every listener stops answering); the hard one (systemd's default, or the
    unit's LimitNOFILE) is what the admin allows. epoll has no 1,024 ceiling.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError) as exc:
            log.warning("cannot raise the open files limit", soft=soft, hard=hard, error=str(exc))


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry point ``glusterd2``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if "--version" in args:
        print(f"glusterd2 {gd2.__version__}")
        sys.exit(0)
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"glusterd2: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(config.log_level, config.log_format, config.log_target)
    os.umask(0o022)
    _raise_fd_limit()
    sys.exit(trio.run(daemon_main, config))


if __name__ == "__main__":
    run()
