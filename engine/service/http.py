"""What every request goes through before its endpoint: the body's size limit, the bearer
token, and the access log (method, path, status, size and time: never a query string or a
body, which may hold a case's figures). Plain ASGI, so that each applies before any body is
read."""
from __future__ import annotations

import hmac
import json
import logging
import time

from .problems import MEDIA_TYPE, TOO_LARGE, UNAUTHORIZED, problem

access_log = logging.getLogger("diplo.serve.access")


class BodyTooLarge(Exception):
    """Raised while a body is read past the limit; answered 413 (see app.py)."""

    def __init__(self, limit: int):
        super().__init__(f"the body is larger than the limit of {limit:,} bytes")


async def send_problem(send, found: dict, headers: dict | None = None) -> None:
    body = json.dumps(found, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": found["status"], "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """Refuses a body over `limit` bytes: at once when its Content-Length says so, else as
    soon as the bytes read pass it (raising BodyTooLarge into the endpoint reading it)."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = _header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.limit:
            return await send_problem(send, problem(
                TOO_LARGE, 413, f"the body is {int(length):,} bytes; the limit is "
                f"{self.limit:,}"))
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message
        await self.app(scope, limited, send)


class BearerToken:
    """Requests to the API (`/v1/...`) must carry `Authorization: Bearer TOKEN`; the page,
    its files, the health checks and the OpenAPI description need none."""

    def __init__(self, app, token: str):
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/") \
                or scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        given = _header(scope, b"authorization") or ""
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode("utf-8", "replace"), self.token):
            found = problem(UNAUTHORIZED, 401, "this server requires a bearer token: "
                            "Authorization: Bearer TOKEN" if not given else
                            "the bearer token is not this server's")
            return await send_problem(send, found, {"WWW-Authenticate": 'Bearer realm="diplo"'})
        await self.app(scope, receive, send)


class AccessLog:
    """One line per request on the `diplo.serve.access` logger."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status, size = 500, 0

        async def sending(message):
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)
        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            where = f"{client[0]}:{client[1]}" if client else "-"
            access_log.info('%s "%s %s" %d %d %.1fms', where, scope["method"], scope["path"],
                            status, size, (time.perf_counter() - start) * 1000)
