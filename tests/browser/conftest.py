"""Browser fixtures: Debian's Chromium driven by Playwright, against the real ``hydra run``.

Never downloads a browser: Playwright is pointed at ``/usr/bin/chromium``. Every page records
the requests it makes, its console errors and uncaught exceptions; a test fails when the page
reached any host but the daemon or logged an error.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    ViewportSize,
    expect,
    sync_playwright,
)

from hydra.audit import bulk_append
from hydra.statefile import write_json_atomic
from tests.helpers.daemon import Daemon, daemon

CHROMIUM = os.environ.get("HYDRA_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("HYDRA_TEST_OUTPUT", REPO_ROOT / "test-output")) / "browser"

TIMEOUT_MS = 10_000
"""For every wait: generous, as CI runs these beside the rest of the suite."""

expect.set_options(timeout=TIMEOUT_MS)


def tools_required() -> bool:
    """Whether a missing Chromium must fail the tests: in CI, or when asked explicitly (the
    same rule as the ``gh`` rig of ``tests/adapters/gh_fake/rig.py``)."""
    ci = os.environ.get("CI", "").strip().lower()
    return ci not in ("", "0", "false", "no") or os.environ.get("HYDRA_REQUIRE_REAL_TOOLS") == "1"


def require_chromium(path: str) -> None:
    """Skip when there is no Chromium at ``path``; fail instead where real tools are required."""
    if Path(path).exists():
        return
    message = f"no Chromium at {path} (scripts/system-deps installs Debian's)"
    if tools_required():
        pytest.fail(f"{message}, but CI / HYDRA_REQUIRE_REAL_TOOLS=1 needs it")
    pytest.skip(f"{message}; CI and HYDRA_REQUIRE_REAL_TOOLS=1 fail instead")


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    # Module scope: the driver's event loop never outlives the browser tests of this worker.
    require_chromium(CHROMIUM)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


def seed(data_dir: Path) -> None:
    """Costs, escalations and a long stream, written before the daemon opens the data dir."""
    audit = data_dir / "audit"
    costs = [
        ("claude", 0.5, 12_000, 3_000),
        ("codex", 0.5, 9_000, 2_500),
        ("claude", 0.25, 4_000, 800),
    ]
    bulk_append(
        audit,
        "costs",
        [
            (
                "cost",
                "loop:health",
                {
                    "source": source,
                    "loop": "health",
                    "model": None,
                    "input_tokens": tin,
                    "output_tokens": tout,
                    "usd": usd,
                },
                None,
            )
            for source, usd, tin, tout in costs
        ],
    )
    items = [
        _escalation(1, "open", "Sandbox keeps failing on main", "3 tries failed: tests time out"),
        _escalation(2, "open", "Review needs a person", "<b>not bold</b> & <script>x</script>"),
    ]
    bulk_append(
        audit,
        "escalations",
        [("escalation.opened", "loop:health", {"id": e["id"]}, None) for e in items],
    )
    write_json_atomic(data_dir / "state" / "escalations.json", {"next": 3, "items": items})
    bulk_append(
        audit,
        "notes",
        [
            (
                "note.even" if i % 2 == 0 else "note.odd",
                "cli" if i % 3 == 0 else "api",
                {"i": i, "html": '<img src="x" id="injected">'},
                f"run-{i // 10}",
            )
            for i in range(1, 131)
        ],
    )


def _escalation(n: int, state: str, title: str, summary: str) -> dict[str, object]:
    at = "2026-01-01T00:00:00.000000Z"
    return {
        "id": f"esc-{n}",
        "key": f"key-{n}",
        "loop": "health",
        "title": title,
        "summary": summary,
        "state": state,
        "created_at": at,
        "updated_at": at,
        "repo": None,
        "details": {"attempts": n + 2},
        "note": None,
        "by": None,
    }


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One seeded daemon for the tests of a worker (each test leaves ``health`` as it was)."""
    workdir = tmp_path_factory.mktemp("hydra")
    seed(workdir / ".hydra")
    with daemon(workdir) as d:
        yield d


RESET_REASON = "browser test: back to defaults"


def reset(d: Daemon) -> None:
    """Global switch on; ``health`` on, live, every 60 s; every repository on."""
    with d.client() as http:
        if not http.get("/api/loops").json()["global"]["enabled"]:
            http.put("/api/switches/all", json={"enabled": True, "reason": RESET_REASON})
        health = http.get("/api/loops/health").json()
        wanted = {"enabled": True, "mode": "live", "interval_s": 60.0}
        changes = {k: v for k, v in wanted.items() if health[k] != v}
        if changes:
            response = http.put("/api/loops/health", json={**changes, "reason": RESET_REASON})
            response.raise_for_status()
        for repo in http.get("/api/repos").json()["repos"]:
            if not repo["enabled"]:
                body = {"enabled": True, "reason": RESET_REASON}
                http.put(f"/api/repos/{repo['name']}", json=body).raise_for_status()


@dataclass
class Dashboard:
    page: Page
    daemon: Daemon
    output: Path
    requests: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, *, token: str | None = None, fragment: str | None = None) -> None:
        link = f"{self.daemon.url}/#token={token or self.daemon.token}"
        self.page.goto(fragment if fragment is not None else link)

    def row(self, loop: str = "health"):  # type: ignore[no-untyped-def]
        return self.page.locator(f'tr[data-loop="{loop}"]')

    def foreign_requests(self) -> list[str]:
        origin = urlsplit(self.daemon.url).netloc
        return [
            r.url
            for r in self.requests
            if not r.url.startswith(("data:", "blob:")) and urlsplit(r.url).netloc != origin
        ]

    def api_calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and urlsplit(r.url).path == path]

    def screenshot(self, name: str, **options: object) -> Path:
        self.output.mkdir(parents=True, exist_ok=True)
        path = self.output / f"{name}.png"
        self.page.screenshot(path=str(path), **options)  # type: ignore[arg-type]
        return path


class Dashboards:
    """Opens pages on a daemon; on teardown, checks what every page requested and logged."""

    def __init__(self, browser: Browser, output: Path) -> None:
        self._browser = browser
        self._output = output
        self._opened: list[tuple[BrowserContext, Dashboard]] = []

    def __call__(self, d: Daemon, *, viewport: ViewportSize = DESKTOP) -> Dashboard:
        context = self._browser.new_context(viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        board = Dashboard(page, d, self._output)

        def record(request: Request) -> None:  # Playwright cannot take a bound builtin
            board.requests.append(request)

        page.on("request", record)
        page.on("pageerror", lambda exc: board.errors.append(f"page error: {exc}"))

        def console(message: ConsoleMessage) -> None:
            # Network noise the tests provoke on purpose (a stopped daemon, a 4xx answer) is
            # logged by Chromium as an error too; anything else (CSP, script errors) counts.
            text = message.text
            if message.type == "error" and not text.startswith("Failed to load resource"):
                board.errors.append(f"console: {text}")

        page.on("console", console)
        self._opened.append((context, board))
        return board

    def close(self) -> None:
        for context, board in self._opened:
            context.close()
            assert board.foreign_requests() == [], "the page reached a host other than the daemon"
            assert board.errors == [], board.errors


@pytest.fixture
def dashboards(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Dashboards]:
    output = OUTPUT / re.sub(r"[^\w.-]+", "_", request.node.name)
    opened = Dashboards(browser, output)
    yield opened
    opened.close()


@pytest.fixture
def dash(dashboards: Dashboards, shared_daemon: Daemon) -> Dashboard:
    """A fresh browser context on the shared daemon, with ``health`` back to its defaults."""
    reset(shared_daemon)
    return dashboards(shared_daemon)


@pytest.fixture
def phone(dashboards: Dashboards, shared_daemon: Daemon) -> Dashboard:
    """As :func:`dash`, in a browser context 390 px wide (a phone held upright)."""
    reset(shared_daemon)
    return dashboards(shared_daemon, viewport=PHONE)
