"""The FastAPI app: the HTTP API under /api, the dashboard's static pages at /, Plotly's JavaScript from the
installed plotly package and the OpenAPI page's Swagger UI from fastapi-offline's (no CDN: the machines have
no internet).

Errors: a body that fails validation gets FastAPI's 422 naming the field (`loc: ["body", "count"]`); an input
the model refuses (a WafersimError) gets its one-line message, as a 422 on its field when it names one
(WafersimError.field), else 400; too many jobs 429; a body over
MAX_BODY_BYTES 413.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from wafersim import __version__
from wafersim.errors import WafersimError
from wafersim.web import adapter
from wafersim.web.jobs import FINISHED, JobRunner, JobsBusy
from wafersim.web.schemas import (
    CapacityBody,
    CompareBody,
    EstimateBody,
    FrontierBody,
    PlanBody,
    ServeBody,
    WaferMapBody,
)

# The largest body any form sends is a compare of 16 systems (~1 KB); 64 KiB leaves room and stops floods.
MAX_BODY_BYTES = 64 * 1024
STATIC = Path(str(resources.files("wafersim.web") / "static"))


def plotly_js() -> Path:
    """plotly.min.js as shipped inside the plotly Python package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall plotly (pip install -e '.[web]')")
    return path


class BodyLimit:
    """Pure ASGI middleware: 413 for a body over the limit, by Content-Length or by counting a chunked one."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and int(length) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send) -> None:
        response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
        await response({"type": "http"}, None, send)


class _TooLarge(Exception):
    pass


def create_app(runner: JobRunner | None = None) -> FastAPI:
    runner = runner or JobRunner()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        runner.shutdown()

    # FastAPI's own /docs page loads Swagger UI from a CDN; fastapi-offline serves it from its package.
    app = FastAPIOffline(title="wafersim", version=__version__, lifespan=lifespan,
                         description="Where should an LLM run? The public Python API over HTTP.")  # fmt: skip
    app.state.runner = runner
    app.add_middleware(BodyLimit)

    @app.exception_handler(WafersimError)
    async def _refused(request: Request, error: WafersimError):
        return refused(str(error), getattr(error, "field", None))

    @app.exception_handler(JobsBusy)
    async def _busy(request: Request, error: JobsBusy):
        return JSONResponse({"detail": str(error)}, status_code=429)

    _api(app, runner)
    _jobs(app, runner)

    @app.get("/plotly.min.js", include_in_schema=False)
    def _plotly():
        return FileResponse(
            plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/", include_in_schema=False)
    def _index():
        return FileResponse(STATIC / "index.html")

    @app.get("/index.html", include_in_schema=False)
    def _index_redirect():
        return RedirectResponse("/")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def refused(message: str, field: str | None) -> JSONResponse:
    """An input the model refuses: 422 shaped like FastAPI's own when the error names its field, else 400."""
    if field is None:
        return JSONResponse({"detail": message}, status_code=400)
    detail = [{"type": "value_error", "loc": ["body", field], "msg": message, "input": None}]
    return JSONResponse({"detail": detail}, status_code=422)


def _api(app: FastAPI, runner: JobRunner) -> None:
    @app.get("/api/health")
    def health() -> dict[str, Any]:
        active = sum(job.state not in FINISHED for job in runner.list())
        return {"status": "ok", "version": __version__, "active_jobs": active}

    @app.get("/api/catalog/systems")
    def catalog_systems() -> dict[str, Any]:
        return adapter.catalog_systems()

    @app.get("/api/catalog/models")
    def catalog_models() -> dict[str, Any]:
        return adapter.catalog_models()

    @app.post("/api/estimate")
    def estimate(body: EstimateBody) -> dict[str, Any]:
        """Prefill/decode speed of one model on one deployment: the keys of `wafersim estimate --json`."""
        return adapter.estimate(body)

    @app.post("/api/compare")
    def compare(body: CompareBody) -> dict[str, Any]:
        """One model on several systems (`wafersim compare --json`); count 0 = as many as the weights need."""
        return adapter.compare(body)

    @app.post("/api/frontier")
    def frontier(body: FrontierBody) -> dict[str, Any]:
        """The Pareto frontier of tokens/s per user against tokens/s per MW (`wafersim frontier`; `points` is
        its `--json` list)."""
        return adapter.frontier(body)

    @app.post("/api/wafer/map")
    def wafer_map(body: WaferMapBody) -> dict[str, Any]:
        """Where each layer sits on which wafer and SRAM use per PE (`wafersim wafer map --json`)."""
        return adapter.wafer_map(body)

    @app.get("/api/validate")
    def validate(group: Literal["all", "calibration", "test", "wafer"] = "all") -> dict[str, Any]:
        """Every published measurement, predicted (`wafersim validate --json`); 'wafer': the wafer-scale group."""
        return adapter.validate(group)

    async def wait_for(kind: str, body: Any, request: Request) -> Any:
        """The blocking face of a job: run it in a worker and answer when it ends (cancelled if the client
        goes away). Use POST /api/jobs/{kind} to follow progress instead."""
        job = await run_in_threadpool(runner.submit, kind, body.model_dump())
        while job.state not in FINISHED:
            if await request.is_disconnected():
                runner.cancel(job.id)
                break
            await asyncio.sleep(0.05)
        if job.state == "done":
            return job.result
        return refused(job.error or f"job {job.state}", job.error_field)

    @app.post("/api/serve")
    async def serve(body: ServeBody, request: Request) -> dict[str, Any]:
        """Replay a trace or synthetic arrivals against a deployment (`wafersim serve --json`, plus the
        per-request TTFT/TPOT and the KV/queue series)."""
        return await wait_for("serve", body, request)

    @app.post("/api/capacity")
    async def capacity(body: CapacityBody, request: Request) -> dict[str, Any]:
        """Highest request rate within p90 TTFT/TPOT targets (`wafersim capacity --json`)."""
        return await wait_for("capacity", body, request)

    @app.post("/api/plan")
    async def plan(body: PlanBody, request: Request) -> dict[str, Any]:
        """A fleet for a shipped scenario (`wafersim plan SCENARIO --json`)."""
        return await wait_for("plan", body, request)


def _jobs(app: FastAPI, runner: JobRunner) -> None:
    def submitted(kind: str, body: Any) -> JSONResponse:
        job = runner.submit(kind, body.model_dump())
        return JSONResponse(job.to_dict(with_result=False), status_code=202,
                            headers={"Location": f"/api/jobs/{job.id}"})  # fmt: skip

    @app.post("/api/jobs/serve", status_code=202)
    def job_serve(body: ServeBody):
        return submitted("serve", body)

    @app.post("/api/jobs/capacity", status_code=202)
    def job_capacity(body: CapacityBody):
        return submitted("capacity", body)

    @app.post("/api/jobs/plan", status_code=202)
    def job_plan(body: PlanBody):
        return submitted("plan", body)

    @app.get("/api/jobs")
    def jobs() -> list[dict[str, Any]]:
        return [job.to_dict(with_result=False) for job in runner.list()]

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        found = runner.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job '{job_id}'")
        return found.to_dict()

    @app.delete("/api/jobs/{job_id}")
    def cancel(job_id: str) -> dict[str, Any]:
        found = runner.cancel(job_id)
        if found is None:
            raise HTTPException(404, f"no job '{job_id}'")
        return found.to_dict(with_result=False)
