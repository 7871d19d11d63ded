"""The dashboard in headless Chromium against the real daemon: what an operator clicks, types
and sees, and what the audit trail says about it afterwards."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Response, expect

from hydra.audit import iter_records
from tests.browser.conftest import DESKTOP, PHONE, Dashboard, Dashboards, reset
from tests.helpers.daemon import Daemon, daemon

pytestmark = pytest.mark.browser

TRIGGER = "/api/loops/health/trigger"


def control(data_dir: Path, action: str) -> list[dict[str, object]]:
    return [r for r in iter_records(data_dir / "audit", "control") if r["action"] == action]


def test_switch_a_loop_off_with_a_reason_and_it_holds(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    row = dash.row()
    expect(row.locator(".badge")).to_have_text(re.compile("waiting|running"))
    assert "token" not in page.url, "the token stays in the address bar"
    assert page.evaluate("localStorage.getItem('hydra.token')") == d.token
    first_load = {r.url.removeprefix(d.url) for r in dash.requests if "/api/" not in r.url}
    assert first_load == {"/", "/dashboard.css", "/dashboard.js"}

    switch = page.get_by_role("switch", name="Enabled: health")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    page.get_by_role("button", name="Switch off").click()  # no reason yet
    expect(row.locator("xpath=following-sibling::tr[1]")).to_contain_text("Reason is required")
    assert dash.api_calls("PUT", "/api/loops/health") == []
    page.get_by_label("Reason (recorded in the audit trail)").fill("noisy during the demo")
    page.get_by_role("button", name="Switch off").click()

    expect(row.locator(".badge")).to_have_text("disabled")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(row.locator(".note")).to_have_text("switched off by dashboard: noisy during the demo")
    expect(switch).to_be_focused()
    # The audit viewer follows the control stream live.
    expect(page.locator("#audit-rows tr").first).to_contain_text("loop.disabled")
    dash.screenshot("desktop-1280x800")

    page.reload()
    expect(row.locator(".badge")).to_have_text("disabled")
    expect(switch).to_have_attribute("aria-checked", "false")
    dash.screenshot("desktop-1280x800-full", full_page=True)
    page.set_viewport_size(PHONE)
    expect(row).to_be_visible()
    dash.screenshot("phone-390x844")
    dash.screenshot("phone-390x844-full", full_page=True)
    page.set_viewport_size(DESKTOP)

    (record,) = [
        r
        for r in control(d.data_dir, "loop.disabled")
        if r["payload"]["reason"] == "noisy during the demo"  # type: ignore[index]
    ]
    assert record["actor"] == "dashboard"
    assert record["payload"]["loop"] == "health"  # type: ignore[index]
    assert dash.foreign_requests() == []


def test_an_interval_outside_its_bounds_is_refused_in_place(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    interval = page.get_by_label("Interval of health in seconds")
    expect(interval).to_have_value("60")
    expect(dash.row().locator(".bounds")).to_have_text("1 s \u2013 24 h")
    error = dash.row().locator(".interval .field-error")

    interval.fill("0.5")
    interval.press("Enter")
    expect(error).to_have_text("Refused: must be between 1 and 86400 seconds.")
    expect(interval).to_have_attribute("aria-invalid", "true")
    interval.fill("")
    interval.type("not a number")  # a number input keeps nothing of it
    page.get_by_role("button", name="Set interval of health").click()
    expect(error).to_have_text("Enter a number of seconds.")
    assert dash.api_calls("PUT", "/api/loops/health") == []

    # The daemon has the last word: a value it refuses comes back as a 422 shown in place.
    def out_of_bounds(route):  # type: ignore[no-untyped-def]
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "interval_s": 0.25}))

    page.route("**/api/loops/health", out_of_bounds)
    interval.fill("30")
    interval.press("Enter")
    page.get_by_label("Reason (recorded in the audit trail)").fill("tighter loop")
    page.get_by_role("button", name="Set interval", exact=True).click()
    expect(error).to_have_text("interval_s 0.25 is outside the bounds [1, 86400] of loop 'health'")
    page.unroute("**/api/loops/health")
    dash.screenshot("interval-refused")

    interval.fill("120")
    interval.press("Enter")
    page.get_by_label("Reason (recorded in the audit trail)").fill("less often")
    page.get_by_role("button", name="Set interval", exact=True).click()
    expect(error).to_be_hidden()
    expect(interval).not_to_have_attribute("aria-invalid", "true")
    with d.client() as http:
        assert http.get("/api/loops/health").json()["interval_s"] == 120
    mine = [r for r in control(d.data_dir, "loop.updated") if r["actor"] == "dashboard"]
    assert len(mine) == 1, "a refused change left a record"
    assert mine[0]["payload"]["reason"] == "less often"  # type: ignore[index]
    assert mine[0]["payload"]["changes"]["interval_s"]["new"] == 120  # type: ignore[index]


def test_keyboard_alone_switches_a_loop(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    switch = page.get_by_role("switch", name="Enabled: health")
    expect(switch).to_have_attribute("aria-checked", "true")
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == "Enabled: health":
            break
    else:
        pytest.fail("Tab never reached the health switch")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focus is not visible"

    page.keyboard.press("Space")
    reason = page.get_by_label("Reason (recorded in the audit trail)")
    expect(reason).to_be_focused()
    page.keyboard.type("keyboard check")
    page.keyboard.press("Enter")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(switch).to_be_focused()

    page.keyboard.press("Enter")  # and back on, still without a mouse
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")  # Escape cancels
    expect(reason).to_be_hidden()
    expect(switch).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type("done checking")
    page.keyboard.press("Enter")
    expect(switch).to_have_attribute("aria-checked", "true")
    actions = [(r["action"], r["actor"]) for r in iter_records(d.data_dir / "audit", "control")]
    assert ("loop.disabled", "dashboard") in actions
    assert ("loop.enabled", "dashboard") in actions


def test_live_updates_arrive_over_sse_without_a_reload(dash: Dashboard) -> None:
    d = dash.daemon
    dash.open()
    last = dash.row().locator(".last")
    expect(last).to_have_attribute("data-run", re.compile(".+"))  # the first tick at start-up
    before = last.get_attribute("data-run")
    navigations = len([r for r in dash.requests if r.is_navigation_request()])
    with d.client() as http:
        assert http.post("/api/loops/health/trigger").status_code == 202
        expect(last).not_to_have_attribute("data-run", before or "")
        ran = http.get("/api/loops/health").json()["last"]["run_id"]
        expect(last).to_have_attribute("data-run", ran)
        # A switch flipped by someone else (the API, actor `api`) shows up too.
        response = http.put("/api/loops/health", json={"enabled": False, "reason": "from the CLI"})
        assert response.status_code == 200
    expect(dash.row().locator(".badge")).to_have_text("disabled")
    expect(dash.row().locator(".note")).to_have_text("switched off by api: from the CLI")
    assert len([r for r in dash.requests if r.is_navigation_request()]) == navigations
    events = dash.api_calls("GET", "/api/events")
    assert len(events) == 1
    assert events[0].headers["authorization"] == f"Bearer {d.token}"
    assert "token" not in events[0].url


def test_a_lost_connection_is_shown_and_recovers_after_a_restart(
    dashboards: Dashboards, tmp_path: Path
) -> None:
    with daemon(tmp_path) as d:
        _lose_and_regain(dashboards(d), tmp_path)


def _lose_and_regain(dash: Dashboard, tmp_path: Path) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    banner = page.locator("#offline-banner")
    expect(page.locator("#conn")).to_have_text("live")
    expect(banner).to_be_hidden()
    port = d.url.rsplit(":", 1)[1]
    assert d.stop() == 0
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("connection to the daemon is lost")
    dash.screenshot("connection-lost")
    with daemon(tmp_path, args=["--port", port]) as again:
        assert again.url == d.url
        expect(banner).to_be_hidden(timeout=20_000)
        expect(page.locator("#conn")).to_have_text("live")
        expect(dash.row().locator(".badge")).to_have_text(re.compile("waiting|running"))
        again.stop()


def test_the_global_kill_switch_asks_for_confirmation(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    stop = page.get_by_role("button", name="Stop all loops")
    stop.click()
    expect(page.locator("#global-confirm")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#global-confirm")).to_be_hidden()
    expect(stop).to_be_focused()
    assert dash.api_calls("PUT", "/api/switches/all") == []

    stop.click()
    page.get_by_role("button", name="Yes, stop every loop").click()
    expect(page.locator("#global-error")).to_contain_text("Reason is required")
    page.locator("#global-reason").fill("andon: runaway spend")
    page.get_by_role("button", name="Yes, stop every loop").click()
    expect(page.locator("#global-banner")).to_contain_text("Every loop is stopped")
    expect(page.locator("#global-banner")).to_contain_text("andon: runaway spend")
    expect(dash.row().locator(".note")).to_have_text("global switch off: andon: runaway spend")
    expect(page.get_by_role("button", name="Run now: health")).to_be_disabled()
    dash.screenshot("global-stop")
    record = control(d.data_dir, "global.disabled")[-1]
    assert (record["actor"], record["payload"]["reason"]) == ("dashboard", "andon: runaway spend")  # type: ignore[index]

    page.get_by_role("button", name="Resume all loops").click()
    page.locator("#global-reason").fill("spend understood")
    page.get_by_role("button", name="Yes, resume every loop").click()
    expect(page.locator("#global-banner")).to_be_hidden()
    expect(page.get_by_role("button", name="Stop all loops")).to_be_visible()

    # A repository has its own switch, with the same reason form.
    repo = page.locator("#repo-rows tr[data-repo]").first
    name = repo.get_attribute("data-repo")
    repo.get_by_role("switch").click()
    page.get_by_label("Reason (recorded in the audit trail)").fill("repo under maintenance")
    page.get_by_role("button", name="Switch off").click()
    expect(repo.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(repo).to_contain_text("off by dashboard: repo under maintenance")
    record = control(d.data_dir, "repo.disabled")[-1]
    assert record["actor"] == "dashboard"
    assert record["payload"] == {
        "repo": name,
        "changes": {"enabled": {"old": True, "new": False}},
        "reason": "repo under maintenance",
    }


def test_escalations_are_acknowledged_and_resolved_with_a_note(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    card = page.locator('[data-escalation="esc-2"]')
    expect(card.locator(".badge")).to_have_text("open")
    expect(page.locator("#esc-title")).to_have_text("Escalations (2 open)")
    # Markup in a summary is text, never markup.
    expect(card.locator(".summary")).to_have_text("<b>not bold</b> & <script>x</script>")
    assert card.locator(".summary b, .summary script").count() == 0

    card.get_by_role("button", name=re.compile("^Acknowledge")).click()
    card.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(card).to_contain_text("Note is required")
    card.get_by_label("Note (recorded in the audit trail)").fill("looking at it")
    card.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(card.locator(".badge")).to_have_text("acknowledged")
    expect(card.locator(".note-line")).to_have_text("acknowledged by dashboard: looking at it")

    card.get_by_role("button", name=re.compile("^Resolve")).click()
    card.get_by_label("Note (recorded in the audit trail)").fill("fixed the flaky test")
    card.get_by_role("button", name="Resolve", exact=True).click()
    expect(card).to_have_count(0)  # resolved entries leave the default view
    page.get_by_label("Show").select_option("resolved")
    expect(card.locator(".badge")).to_have_text("resolved")

    records = list(iter_records(d.data_dir / "audit", "escalations"))
    moves = [(r["action"], r["actor"]) for r in records[-2:]]
    assert moves == [
        ("escalation.acknowledged", "dashboard"),
        ("escalation.resolved", "dashboard"),
    ]


def test_the_audit_viewer_filters_pages_back_and_escapes(dash: Dashboard) -> None:
    page = dash.page
    dash.open()
    page.get_by_label("Stream").select_option("notes")
    rows = page.locator("#audit-rows tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-seq", "130")
    page.get_by_role("button", name="Older records").click()
    expect(rows).to_have_count(100)
    page.get_by_role("button", name="Older records").click()
    expect(rows).to_have_count(130)
    expect(rows.last).to_have_attribute("data-seq", "1")
    expect(page.get_by_role("button", name="Older records")).to_be_hidden()
    assert page.locator("#injected").count() == 0, "a payload became markup"

    page.get_by_label("Action").fill("note.even")
    page.get_by_label("Actor").fill("cli")
    page.get_by_label("Action").press("Enter")
    expect(rows).to_have_count(21)  # even multiples of 3 up to 130
    page.get_by_label("Run", exact=True).fill("run-12")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(2)  # 120 and 126
    expect(rows.first).to_have_attribute("data-seq", "126")
    expect(rows.first).to_contain_text("note.even")
    rows.first.locator("summary").click()
    expect(rows.first.locator("pre")).to_contain_text('"stream": "notes"')


def test_a_loop_switched_off_for_its_budget_says_so(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    row = dash.row()
    expect(row.locator(".badge")).not_to_have_text("off: budget")
    with d.client() as http:
        # Seeded spend: $1.25 today. Lowering the cap below it is enough: the daemon's budget
        # guard switches the loop off itself, as actor `daemon` with reason `budget`.
        response = http.put(
            "/api/loops/health", json={"daily_budget_usd": 1.0, "reason": "cap the watcher"}
        )
        assert response.status_code == 200
        assert response.json()["budget"]["over_budget"] is True
    expect(row.locator(".badge")).to_have_text("off: budget")  # live, over SSE
    expect(row).to_contain_text("of $1.00")
    expect(row.locator("td[data-label='Spend today'] .bad-text")).to_have_text("$1.25")
    off = [
        r
        for r in iter_records(d.data_dir / "audit", "control")
        if r["action"] == "loop.disabled" and r["payload"]["loop"] == "health"
    ][-1]
    assert (off["actor"], off["payload"]["reason"]) == ("daemon", "budget")
    expect(row.locator(".note")).to_contain_text("daily budget $1.00 passed (spent $1.25 today)")
    costs = page.locator("#costs")
    expect(costs.locator(".total").first).to_contain_text("$1.25")
    expect(costs.locator("svg rect")).to_have_count(30)
    expect(page.locator("#cost-sources")).to_contain_text("claude")
    expect(page.locator("#cost-loops tr", has_text="health")).to_contain_text("$1.00")
    with d.client() as http:  # leave no cap that bites for the next test on this daemon
        http.put("/api/loops/health", json={"daily_budget_usd": 1e6, "reason": "uncap"})


def test_without_a_valid_token_the_page_says_how_to_get_the_link(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open(fragment=f"{d.url}/")
    expect(page.locator("#auth")).to_be_visible()
    expect(page.locator("#auth")).to_contain_text("hydra run")
    expect(page.locator("#app")).to_be_hidden()
    dash.screenshot("no-token")

    dash.open(token="not-the-token")
    expect(page.locator("#auth-why")).to_contain_text("refused")
    page.get_by_label("Or paste the token").fill(d.token)
    page.get_by_label("Or paste the token").press("Enter")
    expect(dash.row().locator(".badge")).to_be_visible()
    expect(page.locator("#auth")).to_be_hidden()


def test_every_loop_state_reads_at_a_glance(dash: Dashboard) -> None:
    """States a healthy daemon rarely shows (broken plugin, backoff, budget stop), rendered
    from the real ``/api/loops`` answer with a few loops rewritten."""
    page, d = dash.page, dash.daemon
    with d.client() as http:
        real = http.get("/api/loops").json()
    health = next(v for v in real["loops"] if v["name"] == "health")
    at = "2026-01-01T00:00:00.000000Z"
    broken = {
        **health,
        "name": "broken_one",
        "plugin": "broken",
        "state": "broken",
        "recoverable": False,
        "error": "ImportError: No module named 'gone'",
        "description": '<img src="x" id="injected">',
        **dict.fromkeys(("enabled", "static_enabled", "switch", "mode", "interval_s"), None),
        **dict.fromkeys(("interval_bounds", "budget", "last", "next_due_at"), None),
    }
    flaky = {
        **health,
        "name": "flaky",
        "state": "backing_off",
        "consecutive_failures": 3,
        "backoff_s": 40.0,
        "last": {
            "run_id": "r-1",
            "kind": "crashed",
            "status": "crashed",
            "duration_ms": 12.0,
            "summary": None,
            "counts": None,
            "error": "RuntimeError: boom",
        },
    }
    spender = {
        **health,
        "name": "spender",
        "state": "disabled",
        "enabled": False,
        "blocked_reason": "switched off by daemon: budget",
        "switch": {"enabled": False, "by": "daemon", "reason": "budget", "at": at},
        "budget": {"daily_budget_usd": 2.0, "spent_today_usd": 2.5, "over_budget": True},
    }
    shadowy = {**health, "name": "shadowy", "mode": "shadow"}
    fake = {**real, "loops": [health, broken, flaky, spender, shadowy]}
    page.route("**/api/loops", lambda route: route.fulfill(json=fake))
    dash.open()

    row = dash.row("broken_one")
    expect(row.locator(".badge")).to_have_text("broken")
    expect(row.locator(".note")).to_have_text("ImportError: No module named 'gone'")
    expect(row.get_by_role("switch", name="Enabled: broken_one")).to_be_disabled()
    expect(row.get_by_role("button", name="Run now: broken_one")).to_be_disabled()
    expect(row.get_by_label("Interval of broken_one in seconds")).to_be_hidden()
    expect(row.locator(".desc")).to_have_text('<img src="x" id="injected">')
    assert page.locator("#injected").count() == 0

    row = dash.row("flaky")
    expect(row.locator(".badge")).to_have_text("backing off")
    expect(row.locator(".note")).to_have_text(
        "3 failure(s) in a row; waits 40 s — RuntimeError: boom"
    )
    expect(row.locator("td[data-label='Failures']")).to_have_text("3 backoff 40 s")
    expect(row.locator(".last .result")).to_have_text("crashed")

    row = dash.row("spender")
    expect(row.locator(".badge")).to_have_text("off: budget")
    expect(row.locator(".note")).to_have_text(
        "switched off by daemon: daily budget $2.00 passed (spent $2.50 today)"
    )
    expect(row.locator("td[data-label='Spend today']")).to_have_text("$2.50 of $2.00")

    mode = dash.row("shadowy").get_by_role("switch", name="Shadow mode: shadowy")
    expect(mode).to_have_attribute("aria-checked", "true")
    expect(mode).to_have_text("shadow")
    dash.screenshot("loop-states-1280x800")
    page.set_viewport_size(PHONE)
    dash.row("spender").scroll_into_view_if_needed()
    dash.screenshot("loop-states-390x844")


def test_the_link_hydra_run_prints_opens_the_dashboard(
    dashboards: Dashboards, shared_daemon: Daemon
) -> None:
    d = shared_daemon
    reset(d)
    link = d.dashboard_link()  # read from the daemon's stdout, as an operator copies it
    assert urlsplit(link).netloc == urlsplit(d.url).netloc
    assert urlsplit(link).fragment == f"token={d.token}"
    dash = dashboards(d)
    page = dash.page
    page.goto(link)

    expect(dash.row().locator(".badge")).to_have_text(re.compile("waiting|running"))
    expect(page.locator("#conn")).to_have_text("live")
    expect(page.locator("#auth")).to_be_hidden()
    # The token leaves the address bar (and so the history) for the browser's storage.
    expect(page).to_have_url(f"{d.url}/")
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("localStorage.getItem('hydra.token')") == d.token
    # Nor in the history: the entry the link made now holds the bare address.
    page.go_back()
    expect(page).to_have_url("about:blank")
    page.go_forward()
    expect(page).to_have_url(f"{d.url}/")
    # Never on the wire in a URL: only in the Authorization header of the API calls.
    assert [r.url for r in dash.requests if d.token in r.url] == []
    (loops, *_) = dash.api_calls("GET", "/api/loops")
    assert loops.headers["authorization"] == f"Bearer {d.token}"

    # It works from storage alone: a reload of the bare address is still signed in.
    page.reload()
    expect(dash.row().locator(".badge")).to_have_text(re.compile("waiting|running"))
    expect(page.locator("#conn")).to_have_text("live")
    expect(page.locator("#auth")).to_be_hidden()
    page.get_by_role("switch", name="Enabled: health").click()
    page.get_by_label("Reason (recorded in the audit trail)").fill("opened from the printed link")
    page.get_by_role("button", name="Switch off").click()
    expect(dash.row().locator(".badge")).to_have_text("disabled")
    record = control(d.data_dir, "loop.disabled")[-1]
    assert (record["actor"], record["payload"]["reason"]) == (  # type: ignore[index]
        "dashboard",
        "opened from the printed link",
    )
    dash.screenshot("opened-from-printed-link")


def test_run_now_triggers_a_tick_audited_as_the_dashboard(dash: Dashboard) -> None:
    page, d = dash.page, dash.daemon
    dash.open()
    row = dash.row()
    last = row.locator(".last")
    expect(last).to_have_attribute("data-run", re.compile(".+"))  # the first tick at start-up
    before = last.get_attribute("data-run") or ""
    triggered_before = len(control(d.data_dir, "loop.triggered"))

    def is_trigger(response: Response) -> bool:
        request = response.request
        return request.method == "POST" and urlsplit(request.url).path == TRIGGER

    with page.expect_response(is_trigger) as answer:
        page.get_by_role("button", name="Run now: health").click()
    assert answer.value.status == 202
    assert answer.value.request.headers["x-hydra-actor"] == "dashboard"
    expect(page.locator("#notice")).to_have_text(re.compile(r"^health (triggered|is already run)"))

    # The daemon audits a trigger before it answers: the record is in the file already.
    records = control(d.data_dir, "loop.triggered")[triggered_before:]
    assert len(records) == 1, records
    (record,) = records
    assert record["actor"] == "dashboard"
    assert record["payload"]["loop"] == "health"  # type: ignore[index]
    # The page sees the same record live, in the audit viewer that follows `control` ...
    shown = page.locator(f'#audit-rows tr[data-seq="{record["seq"]}"]')
    expect(shown).to_contain_text("loop.triggered")
    expect(shown).to_contain_text("dashboard")
    # ... and the tick it asked for, in the loop's row.
    expect(last).not_to_have_attribute("data-run", before)
    with d.client() as http:
        ran = http.get("/api/loops/health").json()["last"]["run_id"]
    expect(last).to_have_attribute("data-run", ran)
    dash.screenshot("run-now")
