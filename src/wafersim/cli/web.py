"""`wafersim web`: the HTTP API and the dashboard (FastAPI on uvicorn; the `web` extra)."""

from __future__ import annotations

import threading
import webbrowser

import click

from wafersim.errors import WafersimError

LOOPBACK = "127.0.0.1"


def _load_app():
    try:
        import uvicorn

        from wafersim.web.app import create_app
    except ImportError as error:
        raise WafersimError(
            f"wafersim web needs FastAPI, uvicorn and plotly ({error.name} is missing): pip install -e '.[web]'"
        ) from None
    return uvicorn, create_app()


@click.command()
@click.option(
    "--host",
    default=LOOPBACK,
    show_default=True,
    help="Address to listen on; anything but loopback exposes the server to the network.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the default browser.")
def web(host, port, open_browser):
    """Serve the HTTP API (/api, OpenAPI page at /docs) and the dashboard (/)."""
    uvicorn, app = _load_app()
    if host != LOOPBACK:
        click.echo(f"note: listening on {host}, reachable from other machines", err=True)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
    if open_browser:

        def opener() -> None:
            while not server.started:
                threading.Event().wait(0.1)
            webbrowser.open(f"http://{LOOPBACK if host in ('0.0.0.0', '::') else host}:{port}/")

        threading.Thread(target=opener, daemon=True).start()
    server.run()
