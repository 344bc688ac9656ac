"""``gd2ctl``: parse the command line, make one API call, print the answer.

Exit status: 0 done, 1 failed (one line on stderr), 2 bad usage (nothing
sent), 70 a bug in gd2ctl. Start-up time matters (one process per admin
command), so only light modules are imported here; see gd2/cli/__init__.py.
"""

from __future__ import annotations

import json
import os
import sys

import gd2
from gd2.api.routes import REQUEST_ID_HEADER
from gd2.cli import events, http
from gd2.cli.commands import COMMANDS, Call, plan
from gd2.cli.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_USAGE, CommandFailed, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_SOCKET = "/run/glusterd2/gd2.sock"
DEFAULT_SECRET_FILE = "/var/lib/glusterd2/auth"
DEFAULT_CA_FILE = "/var/lib/glusterd2/tls/ca.pem"
DEFAULT_TIMEOUT = 120.0  # as the gluster CLI's default --timeout; volume start/stop can take a while

_VALUED = ("--socket", "--endpoint", "--token", "--secret-file", "--timeout", "--ca-file")

_OPTIONS_HELP = (
    ("--socket PATH", f"glusterd2's Unix socket (env GD2_SOCKET, default {DEFAULT_SOCKET})"),
    ("--endpoint URL", "talk to https://HOST:PORT over TCP instead, with a bearer token"),
    ("--ca-file FILE", f"the pool CA that glusterd2's certificate chains to (env GD2_CA_FILE, default "
                       f"{DEFAULT_CA_FILE} if present)"),
    ("--token TOKEN", "the bearer token for --endpoint (env GD2_TOKEN)"),
    ("--secret-file FILE", f"derive the token from this node secret (default {DEFAULT_SECRET_FILE})"),
    ("--json", "print the API's JSON answer"),
    ("--timeout SECONDS", f"give up after this long (default {DEFAULT_TIMEOUT:g})"),
)


class Options:
    """Global options; they may appear anywhere on the command line."""

    __slots__ = ("ca_file", "endpoint", "help", "json", "secret_file", "socket", "timeout", "token")

    def __init__(self) -> None:
        self.socket: str | None = None
        self.endpoint: str | None = None
        self.token: str | None = None
        self.secret_file: str | None = None
        self.ca_file: str | None = None
        self.json = False
        self.help = False
        self.timeout = DEFAULT_TIMEOUT


def usage() -> str:
    """The text of ``gd2ctl help``."""
    lines = ["usage: gd2ctl [--socket PATH | --endpoint URL [--ca-file FILE]] [--token TOKEN | --secret-file FILE]",
             "              [--json]",
             "              [--timeout SECONDS] COMMAND...", "", "commands:"]
    lines += [f"  {command}\n      {what}" for command, what in COMMANDS]
    lines += ["", "options (also accepted after the command):"]
    lines += [f"  {option:<19} {what}" for option, what in _OPTIONS_HELP]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> tuple[Options, list[str]]:
    """Split ``argv`` into global options and command words; raise UsageError."""
    opts = Options()
    words: list[str] = []
    values: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        if arg == "--":
            words += argv[index:]
            break
        if arg == "--json":
            opts.json = True
        elif arg in ("-h", "--help"):
            opts.help = True
        elif (name := arg.partition("=")[0]) in _VALUED:
            if "=" in arg:
                values[name] = arg.partition("=")[2]
            elif index < len(argv):
                values[name] = argv[index]
                index += 1
            else:
                raise UsageError(f"option {name} needs a value")
        elif arg.partition("=")[0] in events.VALUED_OPTIONS:  # a command's own option: passed on
            words.append(arg)
            if "=" not in arg and index < len(argv):
                words.append(argv[index])
                index += 1
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg!r}")
        else:
            words.append(arg)
    if "--socket" in values and "--endpoint" in values:
        raise UsageError("give either --socket or --endpoint, not both")
    if "--token" in values and "--secret-file" in values:
        raise UsageError("give either --token or --secret-file, not both")
    opts.socket = values.get("--socket")
    opts.endpoint = values.get("--endpoint")
    opts.token = values.get("--token")
    opts.secret_file = values.get("--secret-file")
    opts.ca_file = values.get("--ca-file")
    if "--timeout" in values:
        try:
            opts.timeout = float(values["--timeout"])
        except ValueError:
            opts.timeout = -1.0
        if not 0 < opts.timeout < 1e9:
            raise UsageError(f"--timeout must be a positive number of seconds, not {values['--timeout']!r}")
    return opts, words


def connection(opts: Options, environ: Mapping[str, str]) -> tuple[http.Endpoint, list[tuple[str, str]]]:
    """Where to send requests and the auth headers they need."""
    if opts.endpoint is None:
        return http.Endpoint(unix_path=opts.socket or environ.get("GD2_SOCKET") or DEFAULT_SOCKET), []
    ca_file = opts.ca_file or environ.get("GD2_CA_FILE") or _default_ca_file()
    try:
        endpoint = http.Endpoint.from_url(opts.endpoint, ca_file=ca_file)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    token = opts.token or (None if opts.secret_file else environ.get("GD2_TOKEN"))
    if not token:
        token = _token_from(opts.secret_file or DEFAULT_SECRET_FILE)
    return endpoint, [("Authorization", f"Bearer {token}")]


def _default_ca_file() -> str | None:
    import os

    return DEFAULT_CA_FILE if os.path.exists(DEFAULT_CA_FILE) else None


def _token_from(path: str) -> str:
    from gd2.api.token import derive_token  # hmac/hashlib: only for TCP

    try:
        with open(path, "rb") as file:
            secret = file.read()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CommandFailed(f"cannot read the token secret {path}: {reason} (give --token or set GD2_TOKEN)"
                            ) from None
    if not secret.strip():
        raise CommandFailed(f"the token secret {path} is empty")
    return derive_token(secret)


_HINTS = {"connection refused": " (is glusterd2 running?)", "no such socket": " (is glusterd2 running?)",
          "permission denied": " (the socket is root-only: run gd2ctl as root)"}


def execute(call: Call, opts: Options, environ: Mapping[str, str]) -> int:
    """Make the call and print its answer; raise CommandFailed."""
    endpoint, auth = connection(opts, environ)
    if call.preface and not opts.json:
        sys.stdout.write(call.preface)
    request_id = os.urandom(8).hex()
    headers = [("User-Agent", f"gd2ctl/{gd2.__version__}"), ("Accept", "application/json"),
               (REQUEST_ID_HEADER, request_id), *auth]
    if call.stream:
        return events.watch(endpoint, call.path, headers, as_json=opts.json, timeout=opts.timeout,
                            error_message=error_message)
    body = json.dumps(call.body).encode() if call.body is not None else None
    try:
        response = http.request(endpoint, call.method, call.path, headers=headers, body=body, timeout=opts.timeout)
    except http.TransportError as exc:
        if exc.sent:
            raise CommandFailed(f"request to glusterd2 at {endpoint} failed: {exc.reason} [reqid={request_id}]"
                                ) from None
        raise CommandFailed(f"cannot reach glusterd2 at {endpoint}: {exc.reason}{_HINTS.get(exc.reason, '')}"
                            ) from None
    reqid = response.headers.get(REQUEST_ID_HEADER.lower(), request_id)
    if not 200 <= response.status < 300:
        raise CommandFailed(f"{error_message(response)} [reqid={reqid}]")
    try:
        data = json.loads(response.body) if response.body.strip() else {}
    except ValueError as exc:
        raise CommandFailed(f"glusterd2 sent invalid JSON ({exc}) [reqid={reqid}]") from None
    if not isinstance(data, dict):
        raise CommandFailed(f"glusterd2 sent an unexpected answer (a JSON {type(data).__name__}) [reqid={reqid}]")
    sys.stdout.write(json.dumps(data, indent=2) + "\n" if opts.json else call.render(data))
    return call.exit_status(data) if call.exit_status else 0


def error_message(response: http.Response) -> str:
    """The one line for an error response: the API's message, or the HTTP status."""
    try:
        error = json.loads(response.body)["error"]
        message = " ".join(str(error["message"]).split())
        fields = error.get("fields") or {}
        extra = [f"{key}: {value}" for key, value in fields.items() if str(key) not in message
                 and str(value) not in message]
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.body[:200].decode("utf-8", "replace").strip().splitlines()
        return f"HTTP {response.status} {response.reason}".rstrip() + (f": {text[0]}" if text else "")
    if extra:
        message += f" ({'; '.join(extra)})"
    if response.status == 401:
        message += " (check --token, GD2_TOKEN or --secret-file)"
    return message


def main(argv: list[str], environ: Mapping[str, str]) -> int:
    """Run gd2ctl with ``argv`` (without the program name); return the exit status."""
    try:
        opts, words = parse_args(argv)
        if opts.help or words[:1] == ["help"]:
            sys.stdout.write(usage())
            return 0
        if not words:
            raise UsageError("missing command")
        return execute(plan(words), opts, environ)
    except UsageError as exc:
        sys.stderr.write(f"gd2ctl: {exc} (see 'gd2ctl help')\n")
        return EXIT_USAGE
    except CommandFailed as exc:
        sys.stderr.write(f"gd2ctl: {exc}\n")
        return EXIT_FAILED


def run() -> None:
    """Console entry point: never a traceback, always an exit status."""
    try:
        code = main(sys.argv[1:], os.environ)
        sys.stdout.flush()
    except KeyboardInterrupt:
        sys.stderr.write("gd2ctl: interrupted\n")
        code = 130
    except BrokenPipeError:
        # stdout went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAILED
    except Exception as exc:
        sys.stderr.write(f"gd2ctl: internal error: {type(exc).__name__}: {exc}\n")
        code = EXIT_INTERNAL
    sys.exit(code)


if __name__ == "__main__":
    run()
