"""One server for the whole session (uvicorn in a thread on a free loopback port) and, for the browser tests,
headless Chromium driven by Playwright. Both skip, saying why, when the web extra or chromium is missing."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
pytest.importorskip("uvicorn", reason="the web extra is not installed: pip install -e '.[web]'")
pytest.importorskip("plotly", reason="the web extra is not installed: pip install -e '.[web]'")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The dashboard at http://127.0.0.1:PORT, its capacity cache in a fresh folder."""
    import uvicorn

    from wafersim.web.app import create_app

    monkey = pytest.MonkeyPatch()
    # Read by the plan's capacity search in the worker processes (they inherit the environment).
    monkey.setenv("WAFERSIM_CACHE_DIR", str(tmp_path_factory.mktemp("fleet-cache")))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    monkey.undo()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (the test extra: pip install -e '.[test]')"
    )
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no chromium on PATH (CI: apt-get install -y chromium) — the dashboard is untested in a browser"
        )
    with sync_api.sync_playwright() as playwright:
        # Debian's chromium, never a downloaded one; --no-sandbox because CI runs as root.
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
