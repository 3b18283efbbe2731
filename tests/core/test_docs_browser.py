"""/api/docs/ works on a hospital LAN without internet: Swagger UI and its assets come from this server
(drf-spectacular-sidecar). Chromium loads the page with every request that does not go to 127.0.0.1 aborted."""

import os
from urllib.parse import urlsplit

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, make_user

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def test_the_api_docs_render_every_operation_with_nothing_but_127_0_0_1(live_server):
    from playwright.sync_api import sync_playwright

    make_user("desk7", "reception")
    url = live_server.url.replace("localhost", "127.0.0.1")
    blocked = []

    def only_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", only_local)
        page.goto(f"{url}/login/?next=/api/docs/")
        page.fill("input[name=username]", "desk7")
        page.fill("input[name=password]", "pw-desk7")
        page.click("button[type=submit]")
        page.wait_for_selector(".opblock", timeout=20_000)
        operations = page.locator(".opblock").count()
        text = page.text_content(".swagger-ui")
        browser.close()
    assert not blocked, blocked
    assert operations > 50
    assert "/api/v1/patients/" in text and "/api/v1/visits/{id}/start/" in text
