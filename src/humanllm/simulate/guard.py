"""The service's guard rails: its settings (a public address needs a token), the loopback test,
and :class:`Guard`, the ASGI middleware that limits bodies, checks Host headers and adds security
headers to every response."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost",)


class ServiceConfigError(ValueError):
    """The service cannot start with these settings (e.g. a public address without a token)."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    """Address the server binds to; anything but loopback requires ``token``."""
    token: str | None = None
    """Bearer token every /api/ call must carry (None: no authentication, loopback only)."""
    max_n: int = 8
    """Most samples one request may ask for."""
    max_body_bytes: int = 256 * 1024
    """Largest request body accepted."""

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ServiceConfigError(
                f"{self.host} is reachable from other machines: give a bearer token with --token "
                "or $HUMANLLM_TOKEN (or bind to 127.0.0.1)"
            )
        if self.token is not None and len(self.token) < 8:
            raise ServiceConfigError("the token must be at least 8 characters long")
        if self.max_n < 1 or self.max_body_bytes < 1024:
            raise ServiceConfigError("max_n must be >= 1 and max_body_bytes >= 1024")


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Pure ASGI middleware: body size limit (413), Host check without a token (400), and
    security headers on every response. Cheap: no per-request task or body copy."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.limit = settings.max_body_bytes
        self.check_host = settings.token is None
        self.hosts = {"localhost", "127.0.0.1", "::1", settings.host.strip("[]").lower()}

    def _host_ok(self, scope: Scope) -> bool:
        for key, value in scope.get("headers") or []:
            if key == b"host":
                host = value.decode("latin-1").lower()
                name = host[1 : host.find("]")] if host.startswith("[") else host.split(":")[0]
                return name in self.hosts
        return True  # HTTP/1.0 without Host: only a local client would send that

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.check_host and not self._host_ok(scope):
            await _send_error(
                send, 400, "unexpected Host header: this server only answers loopback names"
            )
            return
        for key, value in scope.get("headers") or []:
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _send_error(send, 413, f"request body over the {self.limit}-byte limit")
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, f"request body over the {self.limit}-byte limit")
            return message

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, limited, secured)
