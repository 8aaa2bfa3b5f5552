"""Real HTTP servers on loopback for the client side's tests: they record what reaches them."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

Answer = Callable[[web.Request], web.Response]


class Receiver:
    """A real HTTP server on loopback that records every request and answers with ``answer``."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.requests: list[tuple[str, str, bytes, str | None]] = []
        self.answer = answer
        self.port = 0

    async def __aenter__(self) -> Receiver:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            auth = request.headers.get("Authorization")
            self.requests.append((request.method, request.path, body, auth))
            if self.answer is not None:
                return self.answer(request)
            return web.Response(status=200)

        server = web.Server(handle)
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._runner.cleanup()


def redirect(status: int, location: str) -> Answer:
    """Answer ``status`` to ``location``, and 200 at any path under /landed."""

    def answer(request: web.Request) -> web.Response:
        if request.path.startswith("/landed"):
            return web.Response(status=200)
        return web.Response(status=status, headers={"Location": location})

    return answer
