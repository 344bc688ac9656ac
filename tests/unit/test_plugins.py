"""The plugin protocol's pure parts: handshake, probes, dependency verdicts, wire, SDK dispatch."""

from __future__ import annotations

import io
import json

import pytest
import trio
import trio.testing

from gd2.plugins import sdk, wire
from gd2.plugins.events import StoreChanges
from gd2.plugins.handshake import (
    COOKIE_KEY,
    COOKIE_VALUE,
    PROBE_KEY,
    VERSIONS_KEY,
    Dependency,
    HostEnv,
    PluginRefused,
    Probe,
    choose_protocol,
    format_handshake,
    parse_handshake,
    parse_probe,
    probe_line,
)
from gd2.plugins.host import check_description
from gd2.plugins.manifest import at_least, judge, start_order
from gd2.plugins.model import DaemonFile, Description, Event, HostInfo, HttpCall, PluginDaemon, XlatorRule
from gd2.testing import FakeStore


def test_handshake_round_trip_and_refusals() -> None:
    line = format_handshake(1, "/run/glusterd2/plugins/x.sock")
    assert line == "1|1|unix|/run/glusterd2/plugins/x.sock|grpc"
    assert parse_handshake(line, "x").address == "/run/glusterd2/plugins/x.sock"
    with pytest.raises(PluginRefused, match="speaks plugin protocol 2; this glusterd2 speaks 1"):
        parse_handshake("1|2|unix|/s|grpc", "x")
    with pytest.raises(PluginRefused, match="handshake version 9"):
        parse_handshake("9|1|unix|/s|grpc", "x")
    with pytest.raises(PluginRefused, match="only gRPC on a Unix socket"):
        parse_handshake("1|1|tcp|127.0.0.1:1|grpc", "x")
    with pytest.raises(PluginRefused, match="bad handshake line"):
        parse_handshake("hello world", "x")


def test_the_plugin_picks_the_highest_common_version() -> None:
    assert choose_protocol({VERSIONS_KEY: "1,2,3"}, (1, 2)) == 2
    assert choose_protocol({VERSIONS_KEY: "3"}, (1, 2)) is None
    env = HostEnv((1,), "/run/x", probe=True).environ()
    assert env[COOKIE_KEY] == COOKIE_VALUE and env[PROBE_KEY] == "1" and env[VERSIONS_KEY] == "1"


def test_probe_lines() -> None:
    probe = Probe("b", "1.0", (1,), (Dependency("a", "2.0"),), "B")
    assert parse_probe(probe_line(probe), "/p/b") == probe
    with pytest.raises(PluginRefused, match="is not a glusterd2 plugin"):
        parse_probe("usage: whatever", "/p/b")
    with pytest.raises(PluginRefused, match="not a valid plugin name"):
        parse_probe(json.dumps({"name": "Bad Name", "version": "1"}), "/p/b")


def test_versions_compare_numerically() -> None:
    assert at_least("1.10.0", "1.9") and at_least("2.0", "2") and not at_least("1.2.0", "2.0")


def _probe(name: str, version: str = "1.0", *deps: tuple[str, str], protocols: tuple[int, ...] = (1,)) -> Probe:
    return Probe(name, version, protocols, tuple(Dependency(n, v) for n, v in deps))


def test_verdicts_missing_old_disabled_refused_and_cycles() -> None:
    found = [(f"/p/{p.name}", p) for p in (
        _probe("a", "1.2"), _probe("b", "1.0", ("a", "1.0")), _probe("c", "1.0", ("zeta", "")),
        _probe("d", "1.0", ("a", "2.0")), _probe("e", "1.0", ("c", "")), _probe("f", protocols=(7,)),
        _probe("g", "1.0", ("off", "")), _probe("off"), _probe("x", "1.0", ("y", "")), _probe("y", "1.0", ("x", "")))]
    verdicts = judge(found, frozenset({"off"}))
    assert {n: v.state for n, v in verdicts.items()} == {
        "a": "runnable", "b": "runnable", "c": "refused", "d": "refused", "e": "refused", "f": "refused",
        "g": "refused", "off": "disabled", "x": "refused", "y": "refused"}
    assert verdicts["c"].reason == "plugin c needs plugin zeta, which is not installed"
    assert verdicts["d"].reason == "plugin d needs plugin a >= 2.0; installed: a 1.2"
    assert verdicts["e"].reason.startswith("plugin e needs plugin c, which was refused")
    assert verdicts["f"].reason == "plugin f speaks plugin protocol 7; this glusterd2 speaks 1"
    assert verdicts["g"].reason == "plugin g needs plugin off, which is disabled"
    assert "dependency cycle" in verdicts["x"].reason
    assert start_order(verdicts) == ["a", "b"]
    twice = judge([("/p/1", _probe("a")), ("/p/2", _probe("a"))], frozenset())
    assert twice["a"].state == "refused" and "two executables" in twice["a"].reason


def test_wire_round_trips() -> None:
    desc = Description("bitrot", "1.0", "d", (Dependency("a", "1"),),
                       (XlatorRule("brick", "features/bitrot-stub", "", "features/changelog", {"bitrot": "on"},
                                   "features.bitrot"),),
                       (sdk.OptionSpec("features.bitrot", "bool", "disable"), sdk.OptionSpec("k", "int", None)),
                       (sdk.Route("POST", "/volumes/{volume}/enable", "s"),), True, ("*",))
    assert wire.decode_description(wire.encode_description(desc)) == desc
    host = HostInfo("0.1", 1, "pid", "127.0.0.1", 24007, "/run", "/log", "/var", "/var/plugins/x", "/run/s", "{}")
    assert wire.decode_describe_request(wire.encode_describe_request(host)) == host
    daemon = PluginDaemon("bitd gv0", ("/usr/sbin/glusterfs", "-f", "x"), "/p", "/l", "-f x ", {"A": "1"},
                          (DaemonFile("/var/x", "volume x"),), ("scrub gv0",), ("-N",))
    assert wire.decode_daemons(wire.encode_daemons([daemon])) == [daemon]
    call = HttpCall("GET", "/a", "b=1", b"{}", {"accept": "x"}, "r1")
    assert wire.decode_http_call(wire.encode_http_call(call)) == call
    event = Event("1", "volume-create", 1.5, "n", {"volume": "gv0"})
    assert wire.decode_event(wire.encode_event(event)) == event
    with pytest.raises(wire.MalformedMessage):
        wire.decode_event(b"\xff\xff\xff")


def test_descriptions_with_bad_templates_or_kinds_are_reported() -> None:
    desc = Description("p", "1", xlators=(XlatorRule("client", "features/x", options={"dir": "{brick_path}"}),
                                          XlatorRule("nfs", "features/y"), XlatorRule("brick", "z")),
                       options=(sdk.OptionSpec("k.x", "float"),))
    problems = check_description(desc)
    assert any("unknown template fields ['brick_path']" in p for p in problems)
    assert any("graph 'nfs'" in p for p in problems) and any("'z': not a CATEGORY/NAME" in p for p in problems)
    assert any("kind 'float'" in p for p in problems)
    fine = Description("p", "1", xlators=(XlatorRule("brick", "features/x", options={"dir": "{brick_path}"}),))
    assert check_description(fine) == []


def _plugin() -> sdk.Plugin:
    plugin = sdk.Plugin("hello", "2.0.0", "says hello", depends=[Dependency("a", "1")])

    @plugin.route("GET", "/greeting/{who}")
    def greeting(request: sdk.Request) -> object:
        return {"hello": request.params["who"], "q": request.query.get("x")}

    @plugin.route("POST", "/fail")
    def fail(request: sdk.Request) -> object:
        raise sdk.PluginError(409, "no", "conflict")

    return plugin


def test_sdk_dispatches_requests() -> None:
    plugin = _plugin()
    answer = plugin.handle(HttpCall("GET", "/greeting/bob", "x=1"))
    assert answer.status == 200 and json.loads(answer.body) == {"hello": "bob", "q": ["1"]}
    answer = plugin.handle(HttpCall("POST", "/fail"))
    assert answer.status == 409 and json.loads(answer.body)["error"] == {"code": "conflict", "message": "no",
                                                                         "fields": {}}
    assert plugin.handle(HttpCall("GET", "/fail")).status == 404
    desc = plugin.describe(HostInfo(config_json='{"listen": "x"}'))
    assert plugin.config == {"listen": "x"} and [r.path for r in desc.routes] == ["/greeting/{who}", "/fail"]


def test_sdk_run_by_hand_and_probe(capsys: pytest.CaptureFixture[str]) -> None:
    plugin = _plugin()
    assert sdk.serve(plugin, environ={}) == 1
    assert "hello 2.0.0: a glusterd2 plugin" in capsys.readouterr().err
    out = io.StringIO()
    assert sdk.serve(plugin, environ={COOKIE_KEY: COOKIE_VALUE, PROBE_KEY: "1", VERSIONS_KEY: "1"}, stdout=out) == 0
    assert parse_probe(out.getvalue(), "x") == Probe("hello", "2.0.0", (1,), (Dependency("a", "1"),), "says hello")
    assert sdk.serve(plugin, environ={COOKIE_KEY: COOKIE_VALUE, VERSIONS_KEY: "5"}) == 1
    assert "glusterd2 offers plugin protocol '5'" in capsys.readouterr().err


def test_store_changes_become_events() -> None:
    changes = StoreChanges(FakeStore(), "node-1")
    before = ({"a": {"state": "Created", "options": {}}, "gone": {"state": "Created"}}, {"p1"})
    after = ({"a": {"state": "Started", "options": {"x": "1"}}, "new": {"state": "Created"}}, {"p1", "p2"})
    got = [(e.type, dict(e.attrs)) for e in changes.diff(before, after)]
    assert got == [("volume-create", {"volume": "new"}), ("volume-delete", {"volume": "gone"}),
                   ("volume-start", {"volume": "a", "state": "Started"}), ("volume-set", {"volume": "a"}),
                   ("peer-add", {"peer": "p2"})]


async def test_store_changes_are_published_as_they_happen() -> None:
    store = FakeStore()
    changes = StoreChanges(store, "node-1", interval=3600)  # no periodic look: only the watches
    published: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(changes.run, lambda event: published.append(event.type))
        await trio.testing.wait_all_tasks_blocked()
        await store.put("volumes/v", "volume", {"state": "Created"})
        await trio.testing.wait_all_tasks_blocked()
        await store.put("peers/p2", "peer", {"id": "p2"})
        await trio.testing.wait_all_tasks_blocked()
        assert published == ["volume-create", "peer-add"]
        nursery.cancel_scope.cancel()
