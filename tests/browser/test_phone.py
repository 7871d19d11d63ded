"""The dashboard on a phone held upright (390 px wide): no sideways scrolling, and every
loop's controls within reach and working."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hydra.audit import iter_records
from tests.browser.conftest import PHONE, Dashboard

pytestmark = pytest.mark.browser

LONG = "/srv/hydra/worktrees/" + "a" * 120 + "/tests/test_" + "b" * 60 + ".py"
"""Unbroken text longer than a phone is wide: a path, as a failing tick reports it."""


def assert_no_horizontal_scroll(page: Page) -> None:
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert inner == PHONE["width"]
    assert scroll <= inner, f"the page scrolls sideways: {scroll} px wide in {inner} px"


def assert_within_the_width(page: Page, name: str, role: str = "button") -> None:
    control = page.get_by_role(role, name=name)  # type: ignore[arg-type]
    control.scroll_into_view_if_needed()
    box = control.bounding_box()
    assert box is not None, f"{name} is not rendered"
    assert 0 <= box["x"] <= PHONE["width"] - box["width"], (name, box)


def test_every_loop_is_within_reach_and_switches_off_on_a_phone(phone: Dashboard) -> None:
    page, d = phone.page, phone.daemon
    with d.client() as http:
        loops: list[dict[str, Any]] = http.get("/api/loops").json()["loops"]
    assert len(loops) > 1
    phone.open()
    expect(phone.row().locator(".badge")).to_have_text(re.compile("waiting|running"))
    expect(page.locator("#loop-rows tr[data-loop]")).to_have_count(len(loops))
    expect(page.locator("#audit-rows tr").first).to_be_visible()
    assert_no_horizontal_scroll(page)

    for view in loops:
        name = view["name"]
        switch = page.get_by_role("switch", name=f"Enabled: {name}")
        run_now = page.get_by_role("button", name=f"Run now: {name}")
        expect(switch).to_be_visible()
        expect(run_now).to_be_visible()
        assert_within_the_width(page, f"Enabled: {name}", "switch")
        assert_within_the_width(page, f"Run now: {name}")
        if view["state"] != "broken":
            expect(switch).to_be_enabled()
            switch.click(trial=True)  # visible, stable, enabled and not covered: clickable
        if view["enabled"] and view["state"] != "broken":
            expect(run_now).to_be_enabled()
            run_now.click(trial=True)
    phone.screenshot("phone-390x844-loops")

    # Switch `health` off, end to end, at this width.
    row = phone.row()
    switch = page.get_by_role("switch", name="Enabled: health")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    reason = page.get_by_label("Reason (recorded in the audit trail)")
    expect(reason).to_be_focused()
    assert_no_horizontal_scroll(page)
    assert_within_the_width(page, "Switch off")
    phone.screenshot("phone-390x844-reason")
    reason.fill("too noisy on the train")
    page.get_by_role("button", name="Switch off").click()

    expect(row.locator(".badge")).to_have_text("disabled")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(row.locator(".note")).to_have_text("switched off by dashboard: too noisy on the train")
    expect(page.get_by_role("button", name="Run now: health")).to_be_disabled()
    expect(page.locator("#audit-rows tr").first).to_contain_text("loop.disabled")
    page.locator("#audit-rows tr").first.locator("summary").click()  # the payload, unfolded
    expect(page.locator("#audit-rows tr").first.locator("pre")).to_contain_text("train")
    assert_no_horizontal_scroll(page)
    phone.screenshot("phone-390x844-switched-off")
    phone.screenshot("phone-390x844-switched-off-full", full_page=True)

    (record,) = [
        r
        for r in iter_records(d.data_dir / "audit", "control")
        if r["action"] == "loop.disabled" and r["payload"]["reason"] == "too noisy on the train"  # type: ignore[index]
    ]
    assert record["actor"] == "dashboard"
    assert record["payload"]["loop"] == "health"  # type: ignore[index]


def test_long_unbroken_text_wraps_instead_of_widening_the_page(phone: Dashboard) -> None:
    """Paths and ids in a loop's description, last result and escalations, rendered from the
    real answers with those fields rewritten."""
    page, d = phone.page, phone.daemon
    with d.client() as http:
        real = http.get("/api/loops").json()
    health = next(v for v in real["loops"] if v["name"] == "health")
    wordy = {
        **health,
        "name": "a_loop_with_a_name_too_long_for_one_line_on_a_phone_screen",
        "description": LONG,
        "state": "backing_off",
        "consecutive_failures": 2,
        "backoff_s": 20.0,
        "last": {
            "run_id": "r-" + "9" * 60,
            "kind": "crashed",
            "status": "crashed",
            "duration_ms": 1.0,
            "summary": LONG,
            "counts": None,
            "error": f"FileNotFoundError: {LONG}",
        },
    }
    page.route("**/api/loops", lambda route: route.fulfill(json={**real, "loops": [health, wordy]}))

    def long_escalations(route):  # type: ignore[no-untyped-def]
        response = route.fetch()
        body = response.json()
        for item in body["escalations"]:
            item["title"], item["summary"] = f"Stuck on {LONG}", LONG
        route.fulfill(response=response, json=body)

    page.route("**/api/escalations*", long_escalations)
    try:
        phone.open()
        expect(phone.row(wordy["name"]).locator(".note")).to_contain_text("FileNotFoundError")
        expect(page.locator('[data-escalation="esc-2"] .summary')).to_have_text(LONG)
        assert_no_horizontal_scroll(page)
        assert_within_the_width(page, f"Run now: {wordy['name']}")
        phone.screenshot("phone-390x844-long-text", full_page=True)
    finally:  # a live update may be in a handler when the context closes
        page.unroute_all(behavior="ignoreErrors")
