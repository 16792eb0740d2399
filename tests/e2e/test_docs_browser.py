"""The /docs page renders the API in a real headless Chromium with every other host blocked.

The interactive docs must work on a machine that reaches no CDN. The page is
loaded from a loopback server; any request to another host is aborted and recorded, and the
test fails if there was one or if Swagger UI did not render the metrics route and its new
parameters.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

import metrics
from metrics.serve.http import create_app
from tests.e2e.test_ui_browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.tiny import DATA
from tests.helpers.warehouse import write_warehouse
from tests.serve.test_http import _serving

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/ensure-browser)")
def test_docs_render_with_no_outside_host(tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    store = metrics.connect(write_warehouse(tmp_path / "warehouse", DATA))
    app = create_app(keys_file=tmp_path / "keys.json", store=store)
    with _serving(app) as port, sync_playwright() as pw:
        local = f"127.0.0.1:{port}"
        foreign: list[str] = []
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()

        def route(r) -> None:
            if urlsplit(r.request.url).netloc == local:
                r.continue_()
            else:
                foreign.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(f"http://{local}/docs")
        route_path = "/v1/projects/{projectId}/metrics"
        operation = page.locator(".opblock-summary-path", has_text=route_path)
        operation.first.wait_for(timeout=30_000)
        operation.first.click()
        for name in ("compare", "group_by", "format", "scope"):
            page.locator(f"tr[data-param-name='{name}']").first.wait_for(timeout=10_000)
        browser.close()
    assert foreign == []
