"""Run the dashboard in a background thread: ``DashboardServer(store).start()``.

For ``citylab up`` and for tests: uvicorn serves the app in its own thread
and event loop, ``start()`` returns once the port accepts connections, and
``stop()`` returns within about two seconds even with live streams open.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from citylab.broker import check_port_free
from citylab.errors import CitylabError
from citylab.stores import SQLiteStore
from dashboard.app import create_app


class DashboardServer:
    """The dashboard over ``store`` on ``http://host:port/``, served from a thread.

    ``port=0`` picks a free port; ``url`` tells which once started. Keyword
    options go to ``create_app`` (``city``, ``site``, ``gradebook_path``,
    ``broker``, ``poll_seconds``).
    """

    def __init__(self, store: SQLiteStore, host: str = "127.0.0.1", port: int = 8000, **app_options: Any) -> None:
        self.host = host
        self.port = port
        self.app = create_app(store, **app_options)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8000/``; a wildcard host shows as loopback."""
        host = self._client_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    @property
    def _client_host(self) -> str:
        # Listening on every address (0.0.0.0, ::) is reachable, and openable, on loopback.
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    def start(self, timeout: float = 10.0) -> "DashboardServer":
        """Serve in a background thread; return once the port accepts connections.

        Raises PortInUseError if the port is taken, CitylabError if uvicorn
        does not come up within ``timeout`` seconds.
        """
        if self._thread is not None:
            raise CitylabError("the dashboard is already running: stop it before starting it again")
        check_port_free(self.host, self.port, "dashboard", "--http-port")
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            # Live streams end by themselves on stop(); this bounds anything else.
            timeout_graceful_shutdown=1,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self.app.state.live.stopping.clear()
        self._thread = threading.Thread(target=self._run, name="citylab-dashboard", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise CitylabError(
                    f"the dashboard could not start on {self.host}:{self.port}"
                    + (f": {self._error}" if self._error else "")
                    + ": choose another port with --http-port"
                ) from self._error
            if time.monotonic() > deadline:
                self.stop()
                raise CitylabError(f"the dashboard did not start within {timeout:.0f} s")
            time.sleep(0.02)
        if self.port == 0:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self._wait_accepting(deadline)
        return self

    def stop(self, timeout: float = 3.0) -> None:
        """Stop serving: end live streams, let uvicorn shut down, join its thread."""
        self.app.state.live.stopping.set()
        self.app.state.runs.shutdown()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(1.0)
        self._thread = None
        self._server = None

    def __enter__(self) -> "DashboardServer":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._server is not None
        try:
            self._server.run()
        except BaseException as exc:  # uvicorn exits with SystemExit when it cannot bind
            self._error = exc

    def _wait_accepting(self, deadline: float) -> None:
        # uvicorn sets `started` after listen(); one connect proves it end to end.
        while True:
            try:
                with socket.create_connection((self._client_host, self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise CitylabError(f"the dashboard on {self.url} does not accept connections") from None
                time.sleep(0.02)
