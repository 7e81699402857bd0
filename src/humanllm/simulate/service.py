"""``humanllm serve``: the six applications over HTTP (FastAPI), the genome's users, and the page.

Endpoints (request and response bodies are the models of :mod:`humanllm.simulate.schemas`; the
OpenAPI schema is at ``/openapi.json``; no Swagger page, whose scripts come from a CDN):

- ``POST /api/{profile,explain,write,comment,select,scenario}``: simulated answers;
- ``GET /api/info``: model, limits, whether a genome is loaded;
- ``GET /api/users?offset=&limit=&source=&q=``: genome users, paged, with their persona;
- ``GET /api/users/{source}/{user_id}``: one person (portrait, recent records) and the inputs
  each application takes from them;
- ``GET /``: the page (``web/``); ``GET /healthz``.

Security: the server binds to 127.0.0.1 by default. Bound to any other address it refuses to
start without a bearer token (``--token`` or ``$HUMANLLM_TOKEN``); with a token, every ``/api/``
call needs ``Authorization: Bearer <token>``. Without a token only loopback Host headers are
accepted (a DNS-rebinding page cannot reach the API). Bodies over ``max_body_bytes`` get a 413,
``n`` over ``max_n`` a 422; every error is JSON ``{"error": {"status", "message"}}``.

The model is loaded once, before the server starts. Requests are served concurrently: each one
awaits the backend, which runs as many at once as it can (llama.cpp: ``n_parallel`` instances;
an OpenAI-compatible server: its own batching); nothing in the service serializes them.
"""

from __future__ import annotations

import gc
import inspect
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from humanllm.humaneval.served import router as humaneval_router
from humanllm.llm.base import PermanentError, TransientError
from humanllm.simulate.apps import SimApp, SimulationError
from humanllm.simulate.guard import (
    Guard,
    ServiceConfigError,
    ServiceSettings,
    is_loopback,
)
from humanllm.simulate.people import GenomeUsers, Person, UnknownUser, UserSummary, inputs_for
from humanllm.simulate.schemas import Result, SampleOptions, SelectResult, apps
from humanllm.simulate.simulator import Simulator

__all__ = ["ServiceConfigError", "ServiceSettings", "create_app", "is_loopback", "running", "serve"]


def _endpoint(api: Any, sim: SimApp, answer: Any, auth: Any) -> None:
    """``POST /api/<name>``: the body is the application's options model."""

    async def run(body: Any) -> Any:
        return await answer(body)

    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=sim.input)],
        return_annotation=Any,
    )
    run.__annotations__ = {"body": sim.input, "return": Any}
    run.__name__ = run.__qualname__ = sim.name
    run.__doc__ = sim.help
    model = SelectResult if sim.candidates is not None else Result
    api.post(f"/api/{sim.name}", dependencies=auth, response_model=model, tags=["applications"])(
        run
    )


_PAGE_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"status": status, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


def _page_file(name: str) -> bytes:
    return resources.files("humanllm.simulate").joinpath("web", name).read_bytes()


def create_app(
    simulator: Simulator,
    *,
    genome: GenomeUsers | None = None,
    settings: ServiceSettings | None = None,
) -> Any:
    """The ASGI app: FastAPI routes wrapped in :class:`Guard`. ``.api`` is the FastAPI app."""
    settings = settings or ServiceSettings()
    api = FastAPI(
        title="HumanLLM simulator",
        version="1",
        description="Simulate a person: profile, explain, write, comment, select, scenario.",
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: not on offline machines
        redoc_url=None,
    )
    page = {name: _page_file(name) for name in ("index.html", *_PAGE_FILES)}

    bearer = HTTPBearer(auto_error=False, description="The server's --token.")

    def authorize(given: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if settings.token is None:
            return
        if given is None or not given.credentials:
            raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <token>'")
        if not secrets.compare_digest(given.credentials.encode(), settings.token.encode()):
            raise HTTPException(401, "wrong bearer token")

    auth = [Depends(authorize)] if settings.token is not None else []

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "the request body is not valid JSON")
        parts = []
        for e in errors:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        fields = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
        return _error(422, "; ".join(parts) or "invalid request", fields=fields)

    @api.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException is a subclass
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @api.exception_handler(UnknownUser)
    async def _unknown(_: Request, exc: UnknownUser) -> JSONResponse:
        return _error(404, str(exc))

    @api.exception_handler(SimulationError)
    async def _no_answer(_: Request, exc: SimulationError) -> JSONResponse:
        return _error(502, str(exc))

    @api.exception_handler(PermanentError)
    async def _refused(_: Request, exc: PermanentError) -> JSONResponse:
        return _error(400, f"the model refused the request: {exc}")

    @api.exception_handler(TransientError)
    async def _busy(_: Request, exc: TransientError) -> JSONResponse:
        return _error(503, f"the model is busy or unreachable: {exc}")

    def check_n(inp: SampleOptions) -> None:
        if inp.n > settings.max_n:
            raise HTTPException(
                422, f"n: {inp.n} is over this server's limit of {settings.max_n} samples"
            )

    async def answer(inp: Any) -> Response:
        check_n(inp)
        result = await simulator.arun(inp)
        # Serialized by pydantic-core in one step; FastAPI would validate the model once more.
        return Response(result.model_dump_json(), media_type="application/json")

    for sim_app in apps():  # one endpoint per application, its body the app's options model
        _endpoint(api, sim_app, answer, auth)

    @api.get("/api/info", dependencies=auth, tags=["people"])
    async def info() -> dict[str, Any]:
        """The model, the limits and the genome this server answers with."""
        return {
            "model": simulator.model_id,
            "applications": [a.name for a in apps()],
            "max_n": settings.max_n,
            "max_body_bytes": settings.max_body_bytes,
            "genome": None
            if genome is None
            else {
                "run_dir": genome.run_dir.name,  # the name only: no server paths to clients
                "users": len(genome),
                "sources": genome.sources(),
            },
        }

    def need_genome() -> GenomeUsers:
        if genome is None:
            raise HTTPException(404, "no genome: start the server with --run-dir RUN to list users")
        return genome

    @api.get("/api/users", dependencies=auth, tags=["people"])
    async def users(
        offset: int = Query(0, ge=0),
        limit: int = Query(50, ge=1, le=500),
        source: str | None = Query(None, max_length=200),
        q: str | None = Query(None, max_length=200, description="Matches user id or persona."),
    ) -> dict[str, Any]:
        """Genome users by source and id, one page at a time, with their persona."""
        total, page_rows = need_genome().page(offset, limit, source, q)
        rows: list[UserSummary] = page_rows
        return {"total": total, "offset": offset, "limit": limit, "users": rows}

    @api.get("/api/users/{source}/{user_id}", dependencies=auth, tags=["people"])
    async def user(source: str, user_id: str) -> dict[str, Any]:
        """One person: portrait and recent records, and each application's inputs from them."""
        g = need_genome()
        person: Person = g.person(user_id, source)
        return {"person": person, "inputs": inputs_for(person, g.history)}

    @api.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/", include_in_schema=False)
    async def index() -> Response:
        headers = {
            "Content-Security-Policy": _CSP,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        }
        return Response(page["index.html"], media_type="text/html; charset=utf-8", headers=headers)

    @api.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in _PAGE_FILES:
            raise HTTPException(404, f"no such file: {name}")
        return Response(
            page[name], media_type=_PAGE_FILES[name], headers={"Cache-Control": "no-cache"}
        )

    if genome is not None:  # the run's human evaluation pages (humanllm.humaneval.served)
        api.include_router(humaneval_router(genome.run_dir, auth))

    guarded = Guard(api, settings)
    guarded.api = api  # type: ignore[attr-defined]
    return guarded


@contextmanager
def running(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL (tests, benchmarks)."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="humanllm-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    sock = server.servers[0].sockets[0].getsockname()
    shown = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
    try:
        yield f"http://{shown}:{sock[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _check_port(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as e:
            raise ServiceConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e


def serve(
    simulator_factory: Callable[[], Simulator],
    *,
    settings: ServiceSettings,
    port: int = 8000,
    genome: GenomeUsers | None = None,
    log: Callable[[str], None] = print,
    log_level: str = "warning",
) -> None:
    """Check the address, load the model once, and serve until interrupted."""
    import uvicorn

    _check_port(settings.host, port)
    simulator = simulator_factory()
    try:
        simulator.warm_up()
        app = create_app(simulator, genome=genome, settings=settings)
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        people = f"; {len(genome)} genome users from {genome.run_dir}" if genome else ""
        auth = "bearer token required" if settings.token else "no token (loopback only)"
        log(f"model: {simulator.model_id}{people}")
        log(
            f"serving http://{shown}:{port}/ (OpenAPI schema at /openapi.json; {auth}); Ctrl-C stops"
        )
        gc.freeze()  # the model and the app live as long as the process: keep them out of GC scans
        uvicorn.run(
            app,
            host=settings.host.strip("[]"),
            port=port,
            log_level=log_level,
            access_log=log_level in ("info", "debug", "trace"),
        )
    finally:
        simulator.close()
