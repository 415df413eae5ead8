"""Running the app on uvicorn: in the foreground for `scratchcnn serve`, or in a thread for tests and benchmarks."""
import threading
import time


def _require_uvicorn():
    try:
        import uvicorn
    except ImportError as error:
        raise ImportError(f'Serving needs uvicorn ({error}): pip install "scratchcnn[serve]"') from None
    return uvicorn


def _server(app, host, port, on_listening=None, log_level="info"):
    """A uvicorn Server whose on_listening(url) runs once its socket listens (port 0: a free port)."""
    uvicorn = _require_uvicorn()

    class Server(uvicorn.Server):  # type: ignore[name-defined]  # uvicorn is imported when serving
        url: str | None = None

        async def startup(self, sockets=None):
            await super().startup(sockets)  # the lifespan, then the listening socket
            if self.started:
                bound_host, bound_port = self.servers[0].sockets[0].getsockname()[:2]
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                self.url = f"http://{shown}:{bound_port}"
                if on_listening is not None:
                    on_listening(self.url)

    return Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))


def serve(app, host="127.0.0.1", port=8000, on_listening=None):
    """Serve app until Ctrl-C; on_listening(url) once the server listens."""
    _server(app, host, port, on_listening).run()


class ServerThread:
    """The app on uvicorn in a background thread, on 127.0.0.1 and a free port: `with ServerThread(app) as url:`."""

    def __init__(self, app, host="127.0.0.1", port=0, timeout=30):
        self._server = _server(app, host, port, log_level="warning")
        self._thread = threading.Thread(target=self._server.run, name="scratchcnn-serve", daemon=True)
        self._timeout = timeout

    def __enter__(self):
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while self._server.url is None:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The server did not start listening.")
            time.sleep(0.02)
        return self._server.url

    def __exit__(self, *exc_info):
        self._server.should_exit = True
        self._thread.join(self._timeout)
