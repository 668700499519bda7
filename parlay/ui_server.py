"""``parlay ui``: the Dagster webserver and daemon on the project's instance, plus one route of our own.

The webserver serves the code location ``parlay`` (DAGSTER_HOME/workspace.yaml) and, under ``/parlay/plots/``,
the PNG plots the assets store in object storage, so the markdown images in their metadata show inline.
The daemon (schedules, sensors, automation) runs beside it as a child process and stops with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from dagster_project.plots import PLOTS_ROUTE
from parlay import config


async def _plot(request: Request) -> Response:
    import fsspec

    rel = request.path_params["path"]
    if ".." in rel.split("/") or not rel.endswith(".png"):
        return Response("not a plot", status_code=404)
    try:
        with fsspec.open(f"{config.storage_url().rstrip('/')}/plots/{rel}", "rb") as f:
            body = f.read()
    except FileNotFoundError:
        return Response("no such plot", status_code=404)
    return Response(body, media_type="image/png", headers={"Cache-Control": "max-age=86400, immutable"})


def sigterm_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt, as Ctrl-C does. uvicorn re-raises the signal it caught once it has
    shut down; with the default SIGTERM action the process would die there, before its cleanup (child
    processes, a private redis-server) runs."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def build_app(workspace_process_context) -> Starlette:  # type: ignore[no-untyped-def]
    """The Dagster webserver app with the plots route in front of it."""
    from dagster_webserver.app import create_app_from_workspace_process_context

    dagster_app = create_app_from_workspace_process_context(workspace_process_context)
    return Starlette(routes=[Route(PLOTS_ROUTE + "/{path:path}", _plot), Mount("/", app=dagster_app)])


def serve(host: str, port: int, workspace: Path, daemon: bool = True) -> None:
    """Run the webserver (and the daemon) until interrupted."""
    import dagster as dg
    import uvicorn
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    sigterm_as_interrupt()
    child = None
    if daemon:
        exe = Path(sys.executable).with_name("dagster-daemon")
        child = subprocess.Popen([str(exe), "run", "-w", str(workspace)])
    try:
        with dg.DagsterInstance.get() as instance, WorkspaceProcessContext(
                instance, WorkspaceFileTarget([str(workspace)])) as context:
            uvicorn.run(build_app(context), host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        pass  # stopped by Ctrl-C or SIGTERM: the code server and the daemon are shut down on the way out
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
