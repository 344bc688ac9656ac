"""A minimal HTTP/1.1 client over a Unix or TCP socket, for gd2ctl.

Why not http.client: it imports email.* and costs more start-up time than the
rest of gd2ctl together. Why ``_socket``: ``socket`` converts hundreds of
constants to enums at import. One request per connection (``Connection:
close``) is all a CLI needs; the reply may still come chunked.
"""

from __future__ import annotations

import _socket
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

_MAX_HEAD = 64 * 1024
_DEFAULT_PORT = 24009


class TransportError(Exception):
    """The request could not be carried out; ``sent`` tells whether it reached the daemon."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class Endpoint:
    """Where glusterd2 listens: a Unix socket path, or a TCP host and port."""

    __slots__ = ("ca_file", "host", "port", "tls", "unix_path")

    def __init__(self, *, unix_path: str | None = None, host: str = "", port: int = 0, tls: bool = False,
                 ca_file: str | None = None) -> None:
        self.unix_path = unix_path
        self.host = host
        self.port = port
        self.tls = tls  # https: glusterd2's TCP listener, with a certificate from its pool's CA
        self.ca_file = ca_file  # the CA that certificate must chain to (None: the system's CAs)

    @classmethod
    def from_url(cls, url: str, *, ca_file: str | None = None) -> Endpoint:
        """Parse ``https://HOST[:PORT][/]`` or ``http://...`` (no scheme: https); raise ValueError."""
        rest, tls = url, True
        if "://" in url:
            scheme, rest = url.split("://", 1)
            if scheme.lower() not in ("http", "https"):
                raise ValueError(f"unsupported endpoint scheme {scheme!r} (use https://HOST:PORT)")
            tls = scheme.lower() == "https"
        rest = rest.rstrip("/")
        if "/" in rest or "?" in rest or "@" in rest or not rest:
            raise ValueError(f"invalid endpoint {url!r} (use http://HOST:PORT)")
        if rest.startswith("["):  # [IPv6]:port
            host, sep, tail = rest[1:].partition("]")
            if not sep or (tail and not tail.startswith(":")):
                raise ValueError(f"invalid endpoint {url!r} (use http://[ADDRESS]:PORT)")
            port_text = tail[1:]
        else:
            host, _, port_text = rest.partition(":")
        if not host:
            raise ValueError(f"invalid endpoint {url!r}: no host")
        port = _DEFAULT_PORT
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"invalid endpoint {url!r}: bad port {port_text!r}")
            port = int(port_text)
        return cls(host=host, port=port, tls=tls, ca_file=ca_file if tls else None)

    @property
    def host_header(self) -> str:
        if self.unix_path is not None:
            return "localhost"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        if self.unix_path is not None:
            return self.unix_path
        return f"{'https' if self.tls else 'http'}://{self.host_header}"


class Response:
    """Status, headers (names lower-cased) and the whole body."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body


def encode_request(endpoint: Endpoint, method: str, target: str, headers: list[tuple[str, str]],
                   body: bytes | None) -> bytes:
    """The bytes of one request; ``body`` is sent as JSON."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {endpoint.host_header}", *(f"{k}: {v}" for k, v in headers),
             "Connection: close"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body is not None else head


def request(endpoint: Endpoint, method: str, target: str, *, headers: list[tuple[str, str]],
            body: bytes | None = None, timeout: float) -> Response:
    """Send one request and read the whole response, all within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    data = encode_request(endpoint, method, target, headers, body)
    sock = _open(endpoint, timeout)
    try:
        sock.sendall(data)
        return _read_response(_Reader(sock, deadline), method)
    except TimeoutError:
        raise TransportError(f"no answer within {timeout:g} s", sent=True) from None
    except OSError as exc:
        raise TransportError(_reason(exc, timeout), sent=True) from None
    finally:
        sock.close()


def _open(endpoint: Endpoint, timeout: float) -> _socket.socket:
    """A connected socket, or a TransportError saying why not (nothing was sent)."""
    try:
        return _connect(endpoint, timeout)
    except OSError as exc:
        raise TransportError(_reason(exc, timeout), sent=False) from None


def _connect(endpoint: Endpoint, timeout: float) -> _socket.socket:
    if endpoint.unix_path is not None:
        candidates: list[tuple[int, int, int, str | tuple[Any, ...]]] = [
            (_socket.AF_UNIX, _socket.SOCK_STREAM, 0, endpoint.unix_path)]
    else:
        candidates = [(family, kind, proto, address) for family, kind, proto, _, address
                      in _socket.getaddrinfo(endpoint.host, endpoint.port, 0, _socket.SOCK_STREAM)]
    error: OSError = OSError(f"no address for {endpoint.host}")
    for family, kind, proto, address in candidates:
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return _secure(sock, endpoint) if endpoint.tls else sock
    raise error


def _secure(sock: _socket.socket, endpoint: Endpoint) -> _socket.socket:
    """TLS over ``sock``; the server's certificate must chain to ``endpoint.ca_file`` and name its host."""
    import socket  # only for https endpoints: the local socket needs none of this
    import ssl

    full = socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    try:
        context = ssl.create_default_context(cafile=endpoint.ca_file)
        return context.wrap_socket(full, server_hostname=endpoint.host)
    except BaseException:
        full.close()
        raise


def _tls_reason(exc: OSError) -> str | None:
    verify = getattr(exc, "verify_message", None)
    if verify:
        return (f"glusterd2's certificate is not trusted ({verify}); give --ca-file with its pool's CA "
                "(/var/lib/glusterd2/tls/ca.pem on any member)")
    reason = getattr(exc, "reason", None)
    if reason == "WRONG_VERSION_NUMBER":
        return "no TLS on the other side (glusterd2's TCP API is https)"
    return None


def _reason(exc: OSError, timeout: float) -> str:
    tls = _tls_reason(exc)
    if tls is not None:
        return tls
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, _socket.gaierror):
        return f"cannot resolve host ({exc.strerror})"
    known = {FileNotFoundError: "no such socket", ConnectionRefusedError: "connection refused",
             PermissionError: "permission denied", ConnectionResetError: "connection reset by glusterd2",
             BrokenPipeError: "connection closed by glusterd2"}
    for kind, reason in known.items():
        if isinstance(exc, kind):
            return reason
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


class _ProtocolError(Exception):
    pass


class _Reader:
    """Buffered reads from a socket, each bounded by the request's deadline."""

    def __init__(self, sock: _socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buf = bytearray()

    def _fill(self) -> bool:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._sock.settimeout(remaining)
        chunk = self._sock.recv(65536)
        self._buf += chunk
        return bool(chunk)

    def line(self) -> bytes:
        start = 0
        while (end := self._buf.find(b"\r\n", start)) < 0:
            if len(self._buf) > _MAX_HEAD:
                raise _ProtocolError("header line too long")
            start = max(len(self._buf) - 1, 0)
            if not self._fill():
                raise _ProtocolError("connection closed before the response was complete")
        out = bytes(self._buf[:end])
        del self._buf[:end + 2]
        return out

    def exact(self, size: int) -> bytes:
        while len(self._buf) < size:
            if not self._fill():
                raise _ProtocolError("connection closed before the response was complete")
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out

    def rest(self) -> bytes:
        while self._fill():
            pass
        out = bytes(self._buf)
        self._buf.clear()
        return out


def _read_response(reader: _Reader, method: str) -> Response:
    try:
        while True:
            status, reason, headers = _read_head(reader)
            if not 100 <= status < 200:  # skip interim responses
                break
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = _read_chunked(reader)
        elif "content-length" in headers:
            length = headers["content-length"].strip()
            if not length.isdigit():
                raise _ProtocolError(f"bad Content-Length {length!r}")
            body = reader.exact(int(length))
        else:
            body = reader.rest()
    except _ProtocolError as exc:
        raise TransportError(f"invalid HTTP response: {exc}", sent=True) from None
    return Response(status, reason, headers, body)


def _read_head(reader: _Reader) -> tuple[int, str, dict[str, str]]:
    status_line = reader.line().decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _ProtocolError(f"bad status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    size = 0
    while line := reader.line():
        size += len(line)
        if size > _MAX_HEAD:
            raise _ProtocolError("headers too long")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise _ProtocolError(f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def _chunk_size(reader: _Reader) -> int:
    """The size line that opens a chunk (extensions after ``;`` ignored)."""
    size_text = reader.line().split(b";", 1)[0].strip()
    try:
        return int(size_text, 16)
    except ValueError:
        raise _ProtocolError(f"bad chunk size {size_text[:20]!r}") from None


def _chunk(reader: _Reader, size: int) -> bytes:
    """A chunk's data and the CRLF after it."""
    data = reader.exact(size)
    if reader.line():
        raise _ProtocolError("chunk not followed by CRLF")
    return data


def _read_chunked(reader: _Reader) -> bytes:
    body = bytearray()
    while size := _chunk_size(reader):
        body += _chunk(reader, size)
    while reader.line():  # trailers
        pass
    return bytes(body)


class Stream:
    """A response whose body is read as it arrives (``gd2ctl events watch``); ``close()`` it when done."""

    __slots__ = ("_chunked", "_length", "_reader", "_sock", "headers", "reason", "status")

    def __init__(self, sock: _socket.socket, reader: _IdleReader, status: int, reason: str,
                 headers: dict[str, str]) -> None:
        self._sock = sock
        self._reader = reader
        self.status = status
        self.reason = reason
        self.headers = headers
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "").strip()
        self._length = int(length) if length.isdigit() else None

    def _pieces(self) -> Iterator[bytes]:
        reader = self._reader
        if self._chunked:
            while True:
                if reader.at_end():
                    return  # the server closed between two chunks: the stream ended (glusterd2 stopped)
                size = _chunk_size(reader)
                if size == 0:
                    return
                yield _chunk(reader, size)
        elif self._length is not None:
            yield reader.exact(self._length)
        else:
            while piece := reader.some():
                yield piece

    def lines(self) -> Iterator[bytes]:
        """Each line of the body (without its newline) as soon as it is complete."""
        pending = b""
        try:
            for piece in self._pieces():
                pending += piece
                *complete, pending = pending.split(b"\n")
                yield from complete
        except _ProtocolError as exc:
            raise TransportError(f"invalid HTTP response: {exc}", sent=True) from None
        except TimeoutError:
            raise TransportError("glusterd2 went silent (no heartbeat)", sent=True) from None
        except OSError as exc:
            raise TransportError(_reason(exc, 0), sent=True) from None
        if pending:
            yield pending

    def read_all(self) -> bytes:
        return b"\n".join(self.lines())

    def close(self) -> None:
        self._sock.close()


class _IdleReader(_Reader):
    """Reads that each may wait ``idle`` seconds (a stream has no overall deadline)."""

    def __init__(self, sock: _socket.socket, idle: float) -> None:
        super().__init__(sock, time.monotonic() + idle)
        self.idle = idle

    def _fill(self) -> bool:
        self._deadline = time.monotonic() + self.idle
        return super()._fill()

    def at_end(self) -> bool:
        """True when the connection is closed and everything has been read (waits for data)."""
        return not self._buf and not self._fill()

    def some(self) -> bytes:
        if not self._buf and not self._fill():
            return b""
        out = bytes(self._buf)
        self._buf.clear()
        return out


def open_stream(endpoint: Endpoint, method: str, target: str, *, headers: list[tuple[str, str]],
                timeout: float, idle: float) -> Stream:
    """Send a request and read the response head within ``timeout``; the body is then read with
    :meth:`Stream.lines`, each read waiting at most ``idle`` seconds."""
    data = encode_request(endpoint, method, target, headers, None)
    sock = _open(endpoint, timeout)
    try:
        sock.sendall(data)
        reader = _IdleReader(sock, min(timeout, idle))
        while True:
            status, reason, head = _read_head(reader)
            if not 100 <= status < 200:
                break
        reader.idle = idle
    except TimeoutError:
        sock.close()
        raise TransportError(f"no answer within {timeout:g} s", sent=True) from None
    except _ProtocolError as exc:
        sock.close()
        raise TransportError(f"invalid HTTP response: {exc}", sent=True) from None
    except OSError as exc:
        sock.close()
        raise TransportError(_reason(exc, timeout), sent=True) from None
    return Stream(sock, reader, status, reason, head)
