"""`waifu-morph studio`: load the model, bind the port, print (and open) the URL with its token, serve.

    server = Studio.start(checkpoint, workdir="studio", host="127.0.0.1", port=0)   # in a thread
    server.url            # http://127.0.0.1:PORT/?token=...
    server.stop()
    run_studio(...)       # the command: the same, in the foreground until Ctrl-C
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from pathlib import Path

from ..errors import WaifuError
from .security import is_loopback, new_token

DEFAULT_PORT = 8765
EXTRA_HINT = "pip install 'waifu-morph[studio]'"


def _need_extra():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise WaifuError(f"the studio needs its optional extra ({err.name} is missing): {EXTRA_HINT}") from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), or a one-line error naming the fix."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise WaifuError(f"port {port} is in use (another studio?); pass --port N, or --port 0 for a free one") from None
        raise WaifuError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); check --host and --port") from None
    sock.set_inheritable(True)
    # replies go out at once: without TCP_NODELAY (which accepted sockets inherit) a frame's body waited for
    # the ACK of its headers, ~40 ms of delayed ACK on every kept-alive connection
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Studio:
    """A running studio server (uvicorn on a socket bound by us, so the port is known before it starts)."""

    def __init__(self, engine, workdir: Path, host: str, sock: socket.socket, token: str | None = None):
        import uvicorn

        from .app import build_app

        self.engine, self.workdir, self.host, self.sock = engine, workdir, host, sock
        self.port = sock.getsockname()[1]
        self.token = token or new_token()
        self.app = build_app(engine, workdir, self.token, host, self.port)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        if name in ("0.0.0.0", "[::]"):
            name = "127.0.0.1"
        return f"http://{name}:{self.port}/?token={self.token}"

    @classmethod
    def start(cls, checkpoint: str | None, workdir: str | Path = "studio", host: str = "127.0.0.1", port: int = 0,
              device: str = "auto", engine=None) -> "Studio":
        """Start in a background thread (tests, the benchmark); returns once it answers."""
        studio = cls.create(checkpoint, workdir, host, port, device, engine)
        studio.thread = threading.Thread(target=studio.serve, name="waifu-studio-server", daemon=True)
        studio.thread.start()
        deadline = time.monotonic() + 30
        while not studio.server.started:
            if not studio.thread.is_alive() or time.monotonic() > deadline:
                raise WaifuError("the studio server did not start")
            time.sleep(0.02)
        return studio

    @classmethod
    def create(cls, checkpoint, workdir, host, port, device="auto", engine=None) -> "Studio":
        _need_extra()
        from .engine import Engine

        folder = Path(workdir).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WaifuError(f"cannot create the work folder {folder}: {exc.strerror or exc}") from None
        sock = bind(host, port)
        try:
            engine = engine or Engine(checkpoint, device)
        except BaseException:
            sock.close()
            raise
        return cls(engine, folder.resolve(), host, sock)

    def serve(self) -> None:
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(30)
        self.sock.close()


def run_studio(checkpoint: str | None, *, port: int | None, workdir: str, no_browser: bool, host: str,
               device: str, console) -> None:
    """The `studio` command: warn about a non-local --host, print the URL, open it, serve until Ctrl-C."""
    from rich.markup import escape

    if not is_loopback(host):
        console.print(f"[bold yellow]warning:[/] --host {escape(host)}: the studio is reachable from other machines; "
                      f"anyone who has its URL (with the token) can render and write files in the work folder",
                      highlight=False, soft_wrap=True)
    studio = Studio.create(checkpoint, workdir, host, DEFAULT_PORT if port is None else port, device)
    console.print(f"waifu-morph studio: {escape(studio.url)}", highlight=False, soft_wrap=True)
    console.print(f"[dim]model {escape(studio.engine.checkpoint)}; work folder {escape(str(studio.workdir))}; "
                  f"Ctrl-C stops it[/]", highlight=False, soft_wrap=True)
    if not no_browser:
        import webbrowser

        threading.Timer(0.5, lambda: webbrowser.open(studio.url)).start()
    try:
        studio.serve()
    except KeyboardInterrupt:            # uvicorn re-raises the Ctrl-C / SIGTERM it handled: a normal stop
        pass
    finally:
        studio.app.renders.stop_all()    # also after a stop uvicorn did not handle: no render left half-written
        studio.sock.close()
    console.print("studio stopped; nothing partial was left behind", highlight=False)
