"""The studio is a server: who may talk to it, and which files the page may touch.

    Guard(app, token, host, port)     ASGI middleware, checked on every request in this order:
        1. Host header: the bound host (and localhost names when bound to loopback; any IP literal when
           bound to all interfaces) with the bound port, else 403. A DNS-rebinding page has its own
           domain name in Host, so it is refused before anything else.
        2. Token: the per-start random token, from the X-Studio-Token header or the ?token= query
           (the URL the studio opens carries it), else 403.
        3. Writes (any method but GET/HEAD): the token must come in the header (a cross-origin form
           cannot set one without a CORS preflight, which is never answered), Origin, when sent, must be
           this server, and Sec-Fetch-Site must not say cross-site or same-site.
    confine(workdir, name)            a page-given file name -> a path inside the work folder, or a
                                      one-line WaifuError: no absolute paths, no '..', no symlink out.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import parse_qs

from ..errors import WaifuError

TOKEN_HEADER = "x-studio-token"
SAFE_METHODS = ("GET", "HEAD")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD = ("0.0.0.0", "::", "")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def host_allowed(header: str, host: str, port: int) -> bool:
    """Is a request's Host header this server (see the module docstring)?"""
    header = header.strip().lower()
    if not header:
        return False
    name, sep, given_port = header.rpartition(":")
    if not sep or "]" in given_port:           # no port, or a bare IPv6 literal
        name, given_port = header, "80"
    if given_port != str(port):
        return False
    bound = host.lower()
    bound_name = f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound
    if name == bound_name:
        return True
    if is_loopback(bound) and name in LOOPBACK_NAMES:
        return True
    return bound in WILDCARD and _is_ip_literal(name)


class Guard:
    """ASGI middleware refusing requests that fail the host, token or write checks (403)."""

    def __init__(self, app, token: str, host: str, port: int):
        self.app, self.token, self.host, self.port = app, token, host, port

    def origin_allowed(self, origin: str) -> bool:
        if origin in ("", "null"):
            return origin == ""
        scheme, _, rest = origin.partition("://")
        return scheme == "http" and host_allowed(rest, self.host, self.port)

    def refusal(self, scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not host_allowed(headers.get("host", ""), self.host, self.port):
            return "this studio only answers to its own address (Host header refused)"
        header_token = headers.get(TOKEN_HEADER, "")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        query_token = (query.get("token") or [""])[0]
        method = scope.get("method", "GET")
        given = header_token if method not in SAFE_METHODS else (header_token or query_token)
        if not given or not secrets.compare_digest(given.encode(), self.token.encode()):
            return "a valid studio token is required (open the URL the studio printed)"
        if method not in SAFE_METHODS:
            if not self.origin_allowed(headers.get("origin", "")):
                return "cross-origin writes are refused"
            if headers.get("sec-fetch-site", "same-origin") in ("cross-site", "same-site"):
                return "cross-origin writes are refused"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            if scope["type"] == "websocket":       # the studio uses none: refuse
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        reason = self.refusal(scope)
        if reason is None:
            await self.app(scope, receive, send)
            return
        body = (reason + "\n").encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


# --- the work folder ---------------------------------------------------------------------------------
def confine(workdir: Path, name: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """`name` from the page -> an absolute path inside `workdir` (which must already be resolved).

    Refused, with a one-line WaifuError: empty names, NUL bytes, absolute paths (POSIX or Windows
    style), any '..' part, and anything that resolves outside the folder (a symlink out). With
    `suffixes`, the name must end in one of them.
    """
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise WaifuError("a file name inside the work folder is required")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive \
            or name.startswith(("/", "\\", "~")):
        raise WaifuError(f"'{name}': only names inside the work folder are allowed, not absolute paths")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        raise WaifuError(f"'{name}': '..' is not allowed; name a file inside the work folder")
    if suffixes is not None and not name.lower().endswith(suffixes):
        raise WaifuError(f"'{name}': the name must end in {', '.join(suffixes)}")
    path = (workdir / Path(*parts)).resolve()
    if path != workdir and workdir not in path.parents:
        raise WaifuError(f"'{name}' leads outside the work folder (a symlink?); it is refused")
    return path


def listing(workdir: Path, suffixes: tuple[str, ...]) -> list[dict]:
    """Files directly in the work folder with these suffixes (symlinks that lead out are left out)."""
    out = []
    try:
        entries = sorted(os.scandir(workdir), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.lower().endswith(suffixes):
            continue
        try:
            path = confine(workdir, entry.name)
            if path.is_file():
                out.append({"name": entry.name, "bytes": path.stat().st_size})
        except (WaifuError, OSError):
            continue
    return out
