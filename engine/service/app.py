"""The HTTP service's endpoints: each parses its request (query options, the cases in its
body), hands the work to the worker pool (engine/service/pool.py) and sends the answer, in
the format asked for. Errors are problem details (engine/service/problems.py).

Starlette and uvicorn are imported here and in nothing that `diplo assess` imports
(`pip install "diplo[serve]"`).
"""
from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .. import __version__, formats
from ..core.run import list_rules, pack_refs
from ..errors import DiploError, UsageError
from ..inputs.validation import did_you_mean
from ..model import SEVERITIES
from . import jobs, problems
from .http import AccessLog, BearerToken, BodyLimit, BodyTooLarge
from .options import (
    MAX_NAME,
    NotAcceptable,
    Option,
    UnsupportedMedia,
    choice,
    choose_format,
    flag,
    formats_for,
    media_type,
    number,
    parse_query,
    part,
    text,
    whole,
)
from .pool import Saturated, StartError, TimeLimit, WorkerDied, WorkerPool

PAGE = Path(__file__).parent / "page"
PAGE_FILES = {"page.js": "text/javascript", "page.css": "text/css"}
# the page may talk to this server only: no other host, no inline script, no plugin, no frame
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; form-action 'none'; "
               "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@dataclass
class ServeOptions:
    """How the service runs (`diplo serve`'s options)."""

    workers: int = 2
    time_limit: float = 30.0          # seconds from receiving a request to its answer
    max_body: int = 4 * 1024 * 1024   # bytes
    queue: int | None = None          # requests waiting for a worker; None: 4 per worker
    token: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    access_log: bool = True


def _format_option() -> Option:
    return Option("format", lambda value, name: value)


SOURCE = Option("source", text(MAX_NAME))
FAIL_ON = Option("fail_on", choice(SEVERITIES), "high")
ASSESS = [_format_option(), SOURCE, FAIL_ON, Option("explain", flag, False),
          Option("details", flag, False), Option("near_miss", flag, False),
          Option("margin", number(0, 10), 0.2), Option("strict", flag, False),
          Option("summary", flag, None), Option("max_chars", whole(0, 10**8), None)]
EXPLAIN = [_format_option(), SOURCE, Option("finding", text()), Option("rule", text(100)),
           Option("remedies", flag, False)]
WHATIF = [_format_option(), SOURCE, FAIL_ON, Option("set", text(), repeat=True),
          Option("param", text(), repeat=True)]
COMPARE = [_format_option(), FAIL_ON]
SWEEP = [_format_option(), SOURCE, Option("vary", text()), Option("from", number(-1e15, 1e15)),
         Option("to", number(-1e15, 1e15)), Option("steps", whole(1, 1000), 10)]
FORMAT_ONLY = [_format_option()]


class Service:
    """The endpoints, over one pack set (loaded and compiled at start) and a worker pool."""

    def __init__(self, pack, pool: WorkerPool, options: ServeOptions):
        self.pack = pack
        self.pool = pool
        self.options = options
        self.offered = {kind: formats_for(kind) for kind in ("reports", "comparison",
                                                              "sweep", "rules", "rule")}
        self.rule_ids = [r.id for p in pack.packs for r in p.rules]
        self.rules = list_rules(pack)
        self.cache: dict[tuple, str] = {}
        self.packs_json = json.dumps([ref.model_dump(mode="json") for ref in pack_refs(pack)],
                                     indent=2, ensure_ascii=False) + "\n"
        self._openapi: str | None = None

    # --- the work, in a worker ---------------------------------------------------------------

    async def _job(self, op: str, parts: dict, options: dict, format_name: str) -> Response:
        answer = await self.pool.run({"op": op, "parts": parts, "options": options})
        if "problem" in answer:
            return problem_response(answer["problem"])
        return Response(answer["body"], media_type=media_type(format_name),
                        headers={**SECURITY_HEADERS, **answer["headers"]})

    async def _parts(self, request: Request, names: tuple[str, ...], source: str | None
                     ) -> dict:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "multipart/form-data":
            if names != ("case",):
                raise UsageError(f"give the cases as parts {' and '.join(names)} of a "
                                 "multipart/form-data body", path="body")
            return {"case": part(await request.body(), source,
                                 request.headers.get("content-type"))}
        allowed = names + (("mapping",) if names == ("case",) else ())
        async with request.form(max_files=len(allowed), max_fields=len(allowed),
                                max_part_size=self.options.max_body) as form:
            for key in form.keys():
                if key not in allowed:
                    raise UsageError(f"unknown part '{key[:40]}'{did_you_mean(key, allowed)} "
                                     f"(parts: {', '.join(allowed)})", path=key[:40])
            found = {}
            for name in names:
                item = form.get(name)
                if item is None:
                    raise UsageError(f"the form has no part '{name}'", path=name)
                data, filename, content_type = await _read(item)
                mapping = None
                if name == "case" and form.get("mapping") is not None:
                    raw, mapping_name, _ = await _read(form.get("mapping"))
                    mapping = (raw, mapping_name or "mapping.yaml")
                found[name] = part(data, filename or (source if name == "case" else None)
                                   or f"<{name}>", content_type, mapping)
        return found

    async def assess(self, request: Request) -> Response:
        query = parse_query(request.query_params.multi_items(), ASSESS)
        name = choose_format(query, request.headers.get("accept"), self.offered["reports"],
                             "json")
        extra = {}
        for option in ("summary", "max_chars"):
            if query[option] is not None and query[option] is not False:
                formats.require_option(name, option, option)
                extra[option] = query[option]
        parts = await self._parts(request, ("case",), query["source"])
        return await self._job("assess", parts, {
            "format": name, "explain": query["explain"], "details": query["details"],
            "near_miss": query["near_miss"], "margin": query["margin"],
            "strict": query["strict"], "fail_on": query["fail_on"],
            "format_options": extra}, name)

    async def explain(self, request: Request) -> Response:
        query = parse_query(request.query_params.multi_items(), EXPLAIN)
        name = choose_format(query, request.headers.get("accept"), ["json", "table"], "json")
        if query["finding"] is not None and query["rule"] is not None:
            raise UsageError("give a finding or a rule, not both", path="rule")
        parts = await self._parts(request, ("case",), query["source"])
        return await self._job("explain", parts, {
            "format": name, "finding": query["finding"], "rule": query["rule"],
            "remedies": query["remedies"]}, name)

    async def whatif(self, request: Request) -> Response:
        from ..analysis.whatif import parse_sets
        query = parse_query(request.query_params.multi_items(), WHATIF)
        name = choose_format(query, request.headers.get("accept"), self.offered["comparison"],
                             "json")
        if query["param"]:
            # a parameter's what-if compiles the packs again: the service compiles only at
            # start, so that no request can make it spend that time and memory
            raise UsageError("the service changes case fields only (set=PATH=VALUE); for "
                             "parameters, run `diplo whatif --param`, or start a service "
                             "with `diplo serve --param`", path="param")
        sets = parse_sets(query["set"])
        if not sets:
            raise UsageError("nothing to change: give at least one set=PATH=VALUE", path="set")
        parts = await self._parts(request, ("case",), query["source"])
        return await self._job("whatif", parts, {"format": name, "sets": sets,
                                                 "fail_on": query["fail_on"]}, name)

    async def compare(self, request: Request) -> Response:
        query = parse_query(request.query_params.multi_items(), COMPARE)
        name = choose_format(query, request.headers.get("accept"), self.offered["comparison"],
                             "json")
        parts = await self._parts(request, ("base", "proposal"), None)
        return await self._job("compare", parts, {"format": name,
                                                  "fail_on": query["fail_on"]}, name)

    async def sweep(self, request: Request) -> Response:
        query = parse_query(request.query_params.multi_items(), SWEEP)
        name = choose_format(query, request.headers.get("accept"), self.offered["sweep"],
                             "json")
        for required in ("vary", "from", "to"):
            if query[required] is None:
                raise UsageError("required", path=required)
        parts = await self._parts(request, ("case",), query["source"])
        return await self._job("sweep", parts, {key: query[key] for key in (
            "vary", "from", "to", "steps")} | {"format": name}, name)

    # --- answered here, from what was loaded at start ------------------------------------------

    async def packs(self, request: Request) -> Response:
        parse_query(request.query_params.multi_items(), [])
        return Response(self.packs_json, media_type="application/json",
                        headers=SECURITY_HEADERS)

    async def rules_list(self, request: Request) -> Response:
        query = parse_query(request.query_params.multi_items(), FORMAT_ONLY)
        name = choose_format(query, request.headers.get("accept"), self.offered["rules"],
                             "json")
        key = ("rules", name)
        if key not in self.cache:
            self.cache[key] = formats.get(name).rules(self.rules)
        return Response(self.cache[key], media_type=media_type(name), headers=SECURITY_HEADERS)

    async def rule(self, request: Request) -> Response:
        from ..authoring.rule_detail import rule_detail
        query = parse_query(request.query_params.multi_items(), FORMAT_ONLY)
        rule_id = request.path_params["rule_id"]
        name = choose_format(query, request.headers.get("accept"), self.offered["rule"],
                             "json")
        if rule_id not in self.rule_ids:
            return problem_response(problems.problem(
                problems.NOT_FOUND, 404, f"no rule '{rule_id[:100]}' is loaded"
                f"{did_you_mean(rule_id, self.rule_ids)}"))
        key = ("rule", rule_id, name)
        if key not in self.cache:
            # the tests that name the rule are read from the loaded packs' folders: once,
            # in a thread, so that the loop goes on serving
            detail = await run_in_threadpool(rule_detail, self.pack, rule_id)
            self.cache[key] = formats.renderer(name, "rule")(detail)
        return Response(self.cache[key], media_type=media_type(name), headers=SECURITY_HEADERS)

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            from .openapi import describe
            self._openapi = json.dumps(describe(self), indent=2, ensure_ascii=False) + "\n"
        return Response(self._openapi, media_type="application/json")

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(self, request: Request) -> Response:
        pool = self.pool
        if not pool.ready:
            return problem_response(problems.problem(
                problems.NOT_READY, 503, "stopping" if pool.closing else
                "no worker is alive: they are being replaced"))
        return JSONResponse({"status": "ready", "workers": pool.alive, "busy": pool.busy,
                             "waiting": pool.waiting})

    async def page(self, request: Request) -> Response:
        return FileResponse(PAGE / "index.html", media_type="text/html",
                            headers={"Content-Security-Policy": PAGE_POLICY,
                                     **SECURITY_HEADERS})

    async def page_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "template.yaml":   # the case `diplo case new` prints, to start from
            from ..inputs.template import case_template
            return Response(case_template(), media_type="application/yaml",
                            headers=SECURITY_HEADERS)
        if name not in PAGE_FILES:
            raise HTTPException(404)
        return FileResponse(PAGE / name, media_type=PAGE_FILES[name], headers=SECURITY_HEADERS)


async def _read(item) -> tuple[bytes, str | None, str | None]:
    if isinstance(item, UploadFile):
        return await item.read(), item.filename, item.content_type
    return str(item).encode("utf-8"), None, None


def problem_response(found: dict, headers: dict | None = None) -> Response:
    return Response(json.dumps(found, ensure_ascii=False), status_code=found["status"],
                    media_type=problems.MEDIA_TYPE, headers={**SECURITY_HEADERS,
                                                              **(headers or {})})


# --- errors: problem details, never a traceback -------------------------------------------------

async def _diplo_error(request: Request, exc: DiploError) -> Response:
    return problem_response(problems.from_error(exc))


async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
    return problem_response(problems.problem(problems.TOO_LARGE, 413, str(exc)))


async def _saturated(request: Request, exc: Saturated) -> Response:
    return problem_response(problems.problem(
        problems.SATURATED, 503, "every worker is busy and no request can wait for one (the "
        "queue is full, or the time limit ran out in it); try again shortly"),
        {"Retry-After": "1"})


async def _time_limit(request: Request, exc: TimeLimit) -> Response:
    limit = request.app.state.service.options.time_limit
    return problem_response(problems.problem(
        problems.TIME_LIMIT, 504, f"the request took longer than the limit of {limit:g} s; "
        "its worker was stopped"))


async def _worker_died(request: Request, exc: WorkerDied) -> Response:
    return problem_response(jobs.internal_error())


async def _not_acceptable(request: Request, exc: NotAcceptable) -> Response:
    return problem_response(problems.problem(
        problems.NOT_ACCEPTABLE, 406, f"this endpoint answers in {exc}; ask for one of them "
        "in Accept, or by ?format="))


async def _unsupported(request: Request, exc: UnsupportedMedia) -> Response:
    found = problems.problem(problems.INVALID_CASE, 415, f"a case cannot be read from "
                             f"{str(exc)[:80] or 'this'} content: send YAML, JSON, a "
                             "spreadsheet, or multipart/form-data")
    found["title"] = "Unsupported media type"
    return problem_response(found)


async def _http(request: Request, exc: HTTPException) -> Response:
    kind = {404: problems.NOT_FOUND, 405: problems.METHOD}.get(exc.status_code,
                                                                problems.BAD_OPTION)
    detail = exc.detail if exc.status_code not in (404, 405) else \
        f"{request.method} {request.url.path[:200]}: {problems.TITLES[kind].lower()}"
    found = problems.problem(kind, exc.status_code, str(detail))
    return problem_response(found, dict(exc.headers or {}))


async def _bug(request: Request, exc: Exception) -> Response:
    print(f"diplo serve: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return problem_response(jobs.internal_error())


def create_app(pack, pool: WorkerPool, options: ServeOptions) -> Starlette:
    """The ASGI application serving `pack` through `pool` (started and stopped by the
    caller: `serve`)."""
    service = Service(pack, pool, options)
    routes = [
        Route("/", service.page, methods=["GET"]),
        Route("/page/{name}", service.page_file, methods=["GET"]),
        Route("/healthz", service.healthz, methods=["GET"]),
        Route("/readyz", service.readyz, methods=["GET"]),
        Route("/openapi.json", service.openapi, methods=["GET"]),
        Route("/v1/assess", service.assess, methods=["POST"]),
        Route("/v1/explain", service.explain, methods=["POST"]),
        Route("/v1/whatif", service.whatif, methods=["POST"]),
        Route("/v1/compare", service.compare, methods=["POST"]),
        Route("/v1/sweep", service.sweep, methods=["POST"]),
        Route("/v1/packs", service.packs, methods=["GET"]),
        Route("/v1/rules", service.rules_list, methods=["GET"]),
        Route("/v1/rules/{rule_id}", service.rule, methods=["GET"]),
    ]
    middleware = []
    if options.access_log:
        middleware.append(Middleware(AccessLog))
    if options.cors_origins:
        from starlette.middleware.cors import CORSMiddleware
        middleware.append(Middleware(CORSMiddleware, allow_origins=options.cors_origins,
                                     allow_methods=["GET", "POST"],
                                     allow_headers=["Authorization", "Content-Type"],
                                     expose_headers=["Diplo-Verdict", "Diplo-Gate"]))
    if options.token is not None:
        middleware.append(Middleware(BearerToken, token=options.token))
    middleware.append(Middleware(BodyLimit, limit=options.max_body))
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={
        DiploError: _diplo_error, BodyTooLarge: _too_large, Saturated: _saturated,
        TimeLimit: _time_limit, WorkerDied: _worker_died, NotAcceptable: _not_acceptable,
        UnsupportedMedia: _unsupported, HTTPException: _http, Exception: _bug})
    app.state.service = service
    return app


def serve(pack, options: ServeOptions, *, host: str, port: int) -> None:
    """Start the workers, then serve until SIGINT or SIGTERM: new connections are refused,
    requests in flight finish (within the time limit), then the workers stop."""
    import contextlib

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from ..core import cache
    if cache.enabled:
        # compiled here once and kept in the cache of compiled packs, every variant is read
        # from it by the workers, instead of being compiled by each of them
        from ..api import compile_years
        compile_years(pack)
    pool = WorkerPool(pack.origin, size=options.workers, time_limit=options.time_limit,
                      queue=options.queue if options.queue is not None else 4 * options.workers)
    app = create_app(pack, pool, options)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await pool.close()   # after uvicorn has finished the requests in flight
    app.router.lifespan_context = lifespan
    log_config = json.loads(json.dumps(LOGGING_CONFIG))
    log_config["loggers"]["diplo.serve.access"] = {"handlers": ["default"], "level": "INFO",
                                                   "propagate": False}
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", access_log=False,
                            log_config=log_config, server_header=False,
                            timeout_graceful_shutdown=int(options.time_limit) + 5)

    async def main():
        try:
            await pool.start()   # every worker has compiled its packs before a request
        except StartError as exc:
            raise UsageError(f"the workers could not start: {exc}", path="--workers") \
                from None
        try:
            await uvicorn.Server(config).serve()
        finally:
            await pool.close()
    asyncio.run(main())
