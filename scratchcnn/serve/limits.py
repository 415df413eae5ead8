"""BodyLimit: an ASGI middleware that refuses request bodies over a size with 413, before reading them all."""
import json

MAX_BODY_BYTES = 10 * 1024 * 1024  # 10 MiB: a photo, or a JSON array of a million numbers, fits


class BodyTooLarge(Exception):
    """Raised from `receive` once a request body passes the limit; BodyLimit answers 413."""


class BodyLimit:
    """Wrap an ASGI app so no request body over max_bytes reaches it.

    A Content-Length over the limit is answered at once, before any of the body is
    read; a body that comes without one (chunked) is counted as it arrives, and the
    app's read fails with BodyTooLarge, which this middleware turns into the 413.
    """

    def __init__(self, app, max_bytes=MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _send_error(send, 400, f"Received Content-Length {declared[:40].decode('latin-1')!r}, "
                                             "expected a whole number.")
                return
            if int(declared) > self.max_bytes:
                await _send_error(send, 413, self._too_large(f"declares {int(declared)} bytes"))
                return
        received, started = 0, False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def watching_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if not started:
                await _send_error(send, 413, self._too_large(f"sent more than {self.max_bytes} bytes"))

    def _too_large(self, what):
        return f"The request body {what}, over the limit of {self.max_bytes} bytes ({self.max_bytes / 2**20:g} MiB)."


async def _send_error(send, status, message):
    body = json.dumps({"error": message}).encode()
    # Connection: close, since the body the client may still be sending is never read.
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
