"""gd2ctl's command-line grammar: global options, volume create, the command table."""

from __future__ import annotations

import pytest

from gd2.cli.commands import plan, quote
from gd2.cli.errors import UsageError
from gd2.cli.http import Endpoint
from gd2.cli.main import DEFAULT_TIMEOUT, parse_args
from gd2.cli.volume_args import parse_create


@pytest.mark.parametrize(("words", "body"), [
    (["v1", "h:/b1"], {"name": "v1", "bricks": ["h:/b1"]}),
    (["v1", "replica", "2", "h:/b1", "h:/b2"], {"name": "v1", "replica": 2, "bricks": ["h:/b1", "h:/b2"]}),
    (["v1", "replica", "3", "arbiter", "1", "a:/b", "b:/b", "c:/b", "force"],
     {"name": "v1", "replica": 3, "arbiter": 1, "bricks": ["a:/b", "b:/b", "c:/b"], "force": True}),
    (["v1", "disperse", "3", "redundancy", "1", "a:/b", "b:/b", "c:/b"],
     {"name": "v1", "disperse": 3, "redundancy": 1, "bricks": ["a:/b", "b:/b", "c:/b"]}),
    (["v1", "redundancy", "1", "a:/b", "b:/b", "c:/b"],
     {"name": "v1", "redundancy": 1, "bricks": ["a:/b", "b:/b", "c:/b"]}),
    (["v1", "transport", "tcp", "127.0.0.1:/x/y"], {"name": "v1", "bricks": ["127.0.0.1:/x/y"]}),
    (["v1", "h:/force"], {"name": "v1", "bricks": ["h:/force"]}),
])
def test_create_grammar_accepts(words: list[str], body: dict[str, object]) -> None:
    assert parse_create(words) == body


@pytest.mark.parametrize(("words", "message"), [
    ([], "missing volume name"),
    (["replica", "2", "h:/a", "h:/b"], "missing volume name"),
    (["h:/a"], "missing volume name"),
    (["v1"], "no bricks given"),
    (["v1", "force"], "no bricks given"),
    (["v1", "replica", "2"], "no bricks given"),
    (["v1", "replica", "x", "h:/a", "h:/b"], "replica count must be a number, not 'x'"),
    (["v1", "replica", "-2", "h:/a", "h:/b"], "replica count must be a number"),
    (["v1", "replica"], "'replica' needs a value"),
    (["v1", "arbiter", "1", "h:/a", "h:/b", "h:/c"], "'arbiter' must follow 'replica N'"),
    (["v1", "replica", "2", "replica", "2", "h:/a", "h:/b"], "'replica' is given twice"),
    (["v1", "transport", "rdma", "h:/a"], "transport 'rdma' is not supported"),
    (["v1", "h:/a", "replica", "2"], "'replica' must come before the bricks"),
    (["v1", "h:/a", "force", "h:/b"], "'force' must come before the bricks"),
    (["v1", "h:relative"], "wrong brick 'h:relative'"),
    (["v1", "/no/host"], "wrong brick '/no/host'"),
    (["v1", ":/no/host"], "wrong brick ':/no/host'"),
])
def test_create_grammar_refuses(words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_create(words)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_global_options_anywhere() -> None:
    opts, words = parse_args(["volume", "--json", "list", "--socket", "/s", "--timeout=2.5"])
    assert words == ["volume", "list"]
    assert (opts.json, opts.socket, opts.timeout, opts.endpoint) == (True, "/s", 2.5, None)
    opts, words = parse_args(["--endpoint=http://h:1", "--token", "t", "version"])
    assert (opts.endpoint, opts.token, words) == ("http://h:1", "t", ["version"])
    opts, words = parse_args(["--secret-file", "/f", "debug", "store", "--", "--json"])
    assert (opts.secret_file, opts.json, words) == ("/f", False, ["debug", "store", "--json"])
    opts, _ = parse_args(["-h"])
    assert opts.help and opts.timeout == DEFAULT_TIMEOUT


@pytest.mark.parametrize(("argv", "message"), [
    (["--socket"], "option --socket needs a value"),
    (["--bogus", "version"], "unknown option '--bogus'"),
    (["-x"], "unknown option '-x'"),
    (["--socket", "/s", "--endpoint", "http://h:1"], "either --socket or --endpoint"),
    (["--token", "t", "--secret-file", "/f"], "either --token or --secret-file"),
    (["--timeout", "soon"], "--timeout must be a positive number"),
    (["--timeout", "0"], "--timeout must be a positive number"),
    (["--timeout=nan"], "--timeout must be a positive number"),
])
def test_global_options_refused(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_args(argv)
    assert message in str(caught.value)


@pytest.mark.parametrize(("words", "method", "path"), [
    (["volume", "info"], "GET", "/v1/volumes"),
    (["volume", "info", "all"], "GET", "/v1/volumes"),
    (["volume", "info", "v1"], "GET", "/v1/volumes/v1"),
    (["volume", "list"], "GET", "/v1/volumes"),
    (["volume", "delete", "v1"], "DELETE", "/v1/volumes/v1"),
    (["volume", "create", "v1", "h:/b"], "POST", "/v1/volumes"),
    (["peer", "list"], "GET", "/v1/peers"),
    (["pool", "list"], "GET", "/v1/peers"),
    (["debug", "store"], "GET", "/v1/debug/store"),
    (["debug", "store", "gd2/x y"], "GET", "/v1/debug/store?prefix=gd2/x%20y"),
    (["version"], "GET", "/version"),
])
def test_command_table(words: list[str], method: str, path: str) -> None:
    call = plan(words)
    assert (call.method, call.path) == (method, path)
    assert (call.body is not None) == (method == "POST")


@pytest.mark.parametrize(("words", "message"), [
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["volume"], "missing subcommand after 'volume'"),
    (["volume", "heal", "v1"], "unknown command 'volume heal'"),
    (["volume", "delete"], "missing volume name"),
    (["volume", "delete", "a", "b"], "too many arguments"),
    (["volume", "info", "a", "b"], "too many arguments"),
    (["volume", "list", "x"], "unexpected argument 'x'"),
    (["peer"], "missing subcommand after 'peer'"),
    (["peer", "probe", "h"], "unknown command 'peer probe'"),
    (["debug", "store", "a", "b"], "unknown command 'debug store'"),
    (["version", "x"], "unexpected argument 'x'"),
])
def test_command_table_refuses(words: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan(words)
    assert message in str(caught.value)


def test_quote() -> None:
    assert quote("a b/c?d&é") == "a%20b%2Fc%3Fd%26%C3%A9"
    assert quote("gd2/volumes/", "/") == "gd2/volumes/"


@pytest.mark.parametrize(("url", "host", "port", "text"), [
    ("http://127.0.0.1:24009", "127.0.0.1", 24009, "http://127.0.0.1:24009"),
    ("http://node1/", "node1", 24009, "http://node1:24009"),
    ("node1:8080", "node1", 8080, "https://node1:8080"),
    ("https://node1", "node1", 24009, "https://node1:24009"),
    ("http://[::1]:9", "::1", 9, "http://[::1]:9"),
])
def test_endpoint_urls(url: str, host: str, port: int, text: str) -> None:
    endpoint = Endpoint.from_url(url)
    assert (endpoint.host, endpoint.port, str(endpoint)) == (host, port, text)


@pytest.mark.parametrize("url", ["ftp://h:1", "http://h:1/api", "http://h:x", "http://h:70000", "http://",
                                 "http://[::1", "http://u@h:1"])
def test_endpoint_urls_refused(url: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        Endpoint.from_url(url)


@pytest.mark.parametrize(("words", "method", "path", "body"), [
    (["volume", "start", "v1"], "POST", "/v1/volumes/v1/start", {"force": False}),
    (["volume", "start", "v1", "force"], "POST", "/v1/volumes/v1/start", {"force": True}),
    (["volume", "stop", "v1"], "POST", "/v1/volumes/v1/stop", {"force": False}),
    (["volume", "status", "v1"], "GET", "/v1/volumes/v1/status", None),
    (["volume", "set", "v1", "performance.write-behind", "off"], "POST", "/v1/volumes/v1/options",
     {"options": {"performance.write-behind": "off"}}),
    (["volume", "get", "v1", "all"], "GET", "/v1/volumes/v1/options", None),
    (["volume", "get", "v1", "cluster.eager-lock"], "GET", "/v1/volumes/v1/options?key=cluster.eager-lock", None),
    (["volume", "reset", "v1", "all"], "POST", "/v1/volumes/v1/options/reset", {"all": True}),
    (["volume", "reset", "v1", "nfs.disable"], "POST", "/v1/volumes/v1/options/reset", {"keys": ["nfs.disable"]}),
])
def test_runtime_and_option_commands(words: list[str], method: str, path: str, body: object) -> None:
    call = plan(words)
    assert (call.method, call.path, call.body) == (method, path, body)


@pytest.mark.parametrize("words", [
    ["volume", "start"], ["volume", "start", "a", "b"], ["volume", "set", "v", "k"], ["volume", "get", "v"],
    ["volume", "reset", "v"], ["volume", "status"],
])
def test_runtime_commands_refuse_bad_arity(words: list[str]) -> None:
    with pytest.raises(UsageError):
        plan(words)
