"""The dashboard's first load: small, same-origin, nothing inline for the CSP to block.

No browser needed: the page and the two assets it references are fetched through the ASGI
routes the daemon serves them with.
"""

from __future__ import annotations

import re

import httpx
import pytest
from benchmarks.api import DASHBOARD_TARGET_BYTES
from starlette.applications import Starlette

from hydra.api import dashboard

pytestmark = pytest.mark.anyio

FIRST_LOAD_BUDGET = DASHBOARD_TARGET_BYTES
"""Bytes, uncompressed: HTML + CSS + JS (the issue's "<= 150 KB", the benchmark's target)."""


async def test_first_load_is_small_and_locked_down() -> None:
    transport = httpx.ASGITransport(app=Starlette(routes=dashboard.ROUTES))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        page = await http.get("/")
        assets = re.findall(r'<(?:link|script|img)\b[^>]*?(?:href|src)="([^"]+)"', page.text)
        assert sorted(assets) == ["/dashboard.css", "/dashboard.js", "data:,"]
        responses = [page, *[await http.get(a) for a in assets if a.startswith("/")]]
    assert [r.status_code for r in responses] == [200, 200, 200]
    total = sum(len(r.content) for r in responses)
    assert total <= FIRST_LOAD_BUDGET, f"first load is {total} bytes"

    csp = page.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'"):
        assert directive in csp
    assert "connect-src 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    # Nothing inline that the policy would block, and no other origin referenced.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert "style=" not in page.text
    assert "<style" not in page.text
    html, css, js = (r.text for r in responses)
    urls = {u for text in (html, css, js) for u in re.findall(r"\w+://[^\s'\"`)<]+", text)}
    # The SVG namespace is a name, and the HTML shows what `hydra run` prints as text.
    assert urls <= {"http://www.w3.org/2000/svg", "http://127.0.0.1:8765/#token=…"}
    assert "url(" not in css
    assert "@import" not in css
    # Data reaches the DOM as text only.
    assert not re.search(r"\.(inner|outer)HTML\s*[+]?=|insertAdjacentHTML|document\.write", js)
    assert not re.search(r"\beval\(|new Function\(", js)
