"""The dashboard as a person uses it, in headless Chromium: every page filled in, run, its charts drawn, and a
bad value answered next to its field. One server for the module (conftest.py).

WAFERSIM_SCREENSHOTS=docs/img regenerates the pictures in docs/web.md (the Plan page then runs the 750 MW
scenario, about half a minute more).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect
SHOTS = os.environ.get("WAFERSIM_SCREENSHOTS")
TIMEOUT_MS = 300_000 if SHOTS else 90_000


@pytest.fixture(scope="module")
def warm_plan(server, browser):
    """The small scenario's capacities, simulated while the other pages are tested (the Plan test reuses them)."""
    request = urllib.request.Request(
        f"{server}/api/jobs/plan",
        data=json.dumps({"scenario": "small-test"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["id"]


def _open(page, server, name: str, query: str = "") -> None:
    page.goto(f"{server}/?page={name}{query}")
    page.wait_for_selector("body[data-ready=true]")


def _fill(page, **fields) -> None:
    for name, value in fields.items():
        field = page.locator(f"#f-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))


def _charts(page, *names: str) -> None:
    for name in names:
        chart = page.locator(f'#charts .chart[data-name="{name}"]')
        expect(chart.locator(".main-svg").first).to_be_visible(timeout=TIMEOUT_MS)


def _error(page, field: str, text: str) -> None:
    expect(page.locator(f"#err-{field}")).to_contain_text(text, timeout=TIMEOUT_MS)
    expect(page.locator(f"#field-{field}")).to_have_class(re.compile(r"\binvalid\b"))


def _shot(page, name: str) -> None:
    if SHOTS:
        page.wait_for_timeout(300)  # Plotly's transitions
        page.screenshot(path=str(Path(SHOTS) / f"web-{name}.png"), full_page=True)


def test_compare(page, server, warm_plan):
    _open(page, server, "compare")
    if not SHOTS:  # the default list takes a wafer placement search per model; the Wafer page tests wafers
        _fill(page, model="llama-3.1-8b", systems="h100-sxm:1,b200:1")
    page.click("#run")
    _charts(page, "tokens-per-user", "tokens-per-mw", "usd-per-mtok")
    if not SHOTS:
        expect(page.locator("#summary tbody tr")).to_have_count(2)
    _shot(page, "compare")
    _fill(page, systems="h100-sxm:eight")
    page.click("#run")
    _error(page, "systems", "valid integer")


def test_estimate_from_a_url_then_a_bad_value(page, server):
    query = "&model=llama-3.1-8b&system=h100-sxm&count=1&input_len=1000&output_len=200&precision=fp8"
    _open(page, server, "estimate", query)  # the URL alone reproduces the view: filled in and run
    _charts(page, "decode-breakdown", "prefill-breakdown")
    expect(page.locator("#f-system")).to_have_value("h100-sxm")
    _shot(page, "estimate")
    _fill(page, count="-2")
    page.click("#run")
    _error(page, "count", "greater than or equal to 1")
    assert "count=-2" in page.url
    expect(page.locator("#charts .chart")).to_have_count(0)


def test_wafer_map(page, server):
    _open(page, server, "wafer")
    if not SHOTS:  # the page's 70B on 4 wafers takes a few seconds of placement search
        _fill(page, model="llama-3.1-8b", count=1)
    page.click("#run")
    _charts(page, "placement-map")
    expect(page.locator("#summary tbody td").nth(2)).to_have_text("4" if SHOTS else "1")
    _shot(page, "wafer")
    _fill(page, batch="0")
    page.click("#run")
    _error(page, "batch", "greater than or equal to 1")


def test_serve_progress_cancel_and_limit(page, server):
    _open(page, server, "serve")
    _fill(page, requests=1000 if SHOTS else 200, slo_ttft_s=0.5, slo_tpot_s=0.02)
    page.click("#run")
    expect(page.locator("#progress")).to_be_visible()
    _charts(page, "ttft-distribution", "tpot-distribution", "kv-timeline", "queue-timeline")
    expect(page.locator("#stage")).to_contain_text("done")
    _shot(page, "serve")
    _fill(page, requests=20000)
    page.click("#run")
    page.click("#cancel")
    expect(page.locator("#stage")).to_contain_text("cancelled", timeout=TIMEOUT_MS)
    _fill(page, requests=10**6)
    page.click("#run")
    _error(page, "requests", "less than or equal to 20000")
    _fill(page, requests=100, tp=2)  # valid to the form, refused by the model: the job fails on that field
    page.click("#run")
    _error(page, "tp", "tp 2 exceeds count 1")


def test_capacity(page, server):
    _open(page, server, "capacity")
    _fill(page, synthetic_requests=1000 if SHOTS else 200)
    page.click("#run")
    _charts(page, "probes-ttft", "probes-tpot")
    _shot(page, "capacity")
    _fill(page, slo_tpot_s="0")
    page.click("#run")
    _error(page, "slo_tpot_s", "greater than 0")


def test_plan(page, server, warm_plan):
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    with urllib.request.urlopen(f"{server}/api/jobs/{warm_plan}") as response:
        while json.load(response)["state"] not in ("done", "failed", "cancelled"):
            assert time.monotonic() < deadline, "the warm-up plan did not finish"
            time.sleep(0.2)
            response = urllib.request.urlopen(f"{server}/api/jobs/{warm_plan}")
    # The page runs its scenario on opening: the 750 MW one by default (the pictures), the small one here.
    _open(page, server, "plan", "" if SHOTS else "&scenario=small-test&use_cache=true")
    expect(page.locator("#f-scenario option").first).to_have_attribute("value", "openai-cerebras-750mw")
    _charts(page, "capacity-vs-power", "cost-by-option", "fleet-mix", "tornado")
    _shot(page, "plan")


def test_validate(page, server):
    _open(page, server, "validate", "" if SHOTS else "&group=test")  # runs on opening
    _charts(page, "predicted-vs-measured", "error-by-point")
    expect(page.locator("#summary tbody tr")).to_have_count(2 if SHOTS else 1)
    _shot(page, "validate")


def test_openapi_page_renders_offline(page, server):
    page.goto(f"{server}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/estimate").first).to_be_visible(
        timeout=TIMEOUT_MS
    )
