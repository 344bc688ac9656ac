"""Bytes on the wire <-> the dataclasses of :mod:`gd2.plugins.model`.

The only module that touches the protobuf classes generated from
protos/plugin.proto (host and SDK both use it).  grpc carries raw bytes; a
malformed message is our error to report.
"""

from __future__ import annotations

import gd2.plugins._proto.plugin_pb2 as pb
from gd2.api.protobuf import MalformedMessage as MalformedMessage  # re-exported: callers catch it here
from gd2.api.protobuf import parse, serialize
from gd2.plugins.handshake import Dependency
from gd2.plugins.model import (
    DaemonFile,
    Description,
    Event,
    HostInfo,
    HttpAnswer,
    HttpCall,
    OptionSpec,
    PluginDaemon,
    Route,
    XlatorRule,
)

SERVICE = "gd2.plugin.v1.Plugin"
DESCRIBE = "Describe"
HEALTH = "Health"
DAEMONS = "Daemons"
HANDLE_REQUEST = "HandleRequest"
EVENTS = "Events"


def method_path(method: str) -> str:
    return f"/{SERVICE}/{method}"


_parse = parse
_bytes = serialize


# ---- Describe ------------------------------------------------------------------------------------

def encode_describe_request(host: HostInfo) -> bytes:
    return _bytes(pb.DescribeRequest(host=pb.Host(
        version=host.version, protocol=host.protocol, peer_id=host.peer_id, address=host.address,
        sunrpc_port=host.sunrpc_port, rundir=host.rundir, logdir=host.logdir, statedir=host.statedir,
        plugin_statedir=host.plugin_statedir, api_socket=host.api_socket, config_json=host.config_json)))


def decode_describe_request(data: bytes) -> HostInfo:
    h = _parse(pb.DescribeRequest, data).host
    return HostInfo(version=h.version, protocol=h.protocol, peer_id=h.peer_id, address=h.address,
                    sunrpc_port=h.sunrpc_port, rundir=h.rundir, logdir=h.logdir, statedir=h.statedir,
                    plugin_statedir=h.plugin_statedir, api_socket=h.api_socket, config_json=h.config_json or "{}")


def encode_description(d: Description) -> bytes:
    return _bytes(pb.DescribeReply(
        name=d.name, version=d.version, description=d.description,
        depends=[pb.Dependency(name=x.name, min_version=x.min_version) for x in d.depends],
        xlators=[pb.XlatorRule(graph=x.graph, type=x.type, name=x.name, after=x.after, options=dict(x.options),
                               when_option=x.when_option) for x in d.xlators],
        options=[pb.VolumeOption(key=o.key, kind=o.kind, default=o.default or "", has_default=o.default is not None,
                                 choices=list(o.choices), description=o.description) for o in d.options],
        routes=[pb.Route(method=r.method, path=r.path, summary=r.summary) for r in d.routes],
        daemons=d.daemons, events=list(d.events)))


def decode_description(data: bytes) -> Description:
    m = _parse(pb.DescribeReply, data)
    return Description(
        name=m.name, version=m.version, description=m.description,
        depends=tuple(Dependency(x.name, x.min_version) for x in m.depends),
        xlators=tuple(XlatorRule(x.graph, x.type, x.name, x.after, dict(x.options), x.when_option)
                      for x in m.xlators),
        options=tuple(OptionSpec(o.key, o.kind or "string", o.default if o.has_default else None, tuple(o.choices),
                                 o.description) for o in m.options),
        routes=tuple(Route(r.method.upper(), r.path, r.summary) for r in m.routes),
        daemons=m.daemons, events=tuple(m.events))


# ---- Health --------------------------------------------------------------------------------------

def encode_health_request() -> bytes:
    return _bytes(pb.HealthRequest())


def encode_health(serving: bool, detail: str = "") -> bytes:
    return _bytes(pb.HealthReply(serving=serving, detail=detail))


def decode_health(data: bytes) -> tuple[bool, str]:
    m = _parse(pb.HealthReply, data)
    return bool(m.serving), str(m.detail)


# ---- Daemons -------------------------------------------------------------------------------------

def encode_daemons_request(volume_json: str) -> bytes:
    return _bytes(pb.DaemonsRequest(volume_json=volume_json))


def decode_daemons_request(data: bytes) -> str:
    return str(_parse(pb.DaemonsRequest, data).volume_json)


def encode_daemons(daemons: list[PluginDaemon]) -> bytes:
    return _bytes(pb.DaemonsReply(daemons=[pb.DaemonSpec(
        name=d.name, argv=list(d.argv), pidfile=d.pidfile, logfile=d.logfile, identity=d.identity, env=dict(d.env),
        files=[pb.File(path=f.path, content=f.content) for f in d.files], depends_on=list(d.depends_on),
        foreground_args=list(d.foreground_args)) for d in daemons]))


def decode_daemons(data: bytes) -> list[PluginDaemon]:
    return [PluginDaemon(name=d.name, argv=tuple(d.argv), pidfile=d.pidfile, logfile=d.logfile,
                         identity=d.identity, env=dict(d.env),
                         files=tuple(DaemonFile(f.path, f.content) for f in d.files),
                         depends_on=tuple(d.depends_on), foreground_args=tuple(d.foreground_args))
            for d in _parse(pb.DaemonsReply, data).daemons]


# ---- HandleRequest -------------------------------------------------------------------------------

def encode_http_call(c: HttpCall) -> bytes:
    return _bytes(pb.HttpRequest(method=c.method, path=c.path, query=c.query, body=c.body, headers=dict(c.headers),
                                 request_id=c.request_id))


def decode_http_call(data: bytes) -> HttpCall:
    m = _parse(pb.HttpRequest, data)
    return HttpCall(m.method, m.path, m.query, bytes(m.body), dict(m.headers), m.request_id)


def encode_http_answer(a: HttpAnswer) -> bytes:
    return _bytes(pb.HttpReply(status=a.status, body=a.body, content_type=a.content_type))


def decode_http_answer(data: bytes) -> HttpAnswer:
    m = _parse(pb.HttpReply, data)
    return HttpAnswer(int(m.status) or 500, bytes(m.body), m.content_type or "application/json")


# ---- Events --------------------------------------------------------------------------------------

def encode_event(e: Event) -> bytes:
    return _bytes(pb.Event(id=e.id, type=e.type, time=e.time, node=e.node, attrs=dict(e.attrs)))


def decode_event(data: bytes) -> Event:
    m = _parse(pb.Event, data)
    return Event(m.id, m.type, m.time, m.node, dict(m.attrs))


def encode_events_reply(received: int) -> bytes:
    return _bytes(pb.EventsReply(received=received))


def decode_events_reply(data: bytes) -> int:
    return int(_parse(pb.EventsReply, data).received)
