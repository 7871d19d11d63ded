"""``/api/loops``, ``/api/switches/all``, ``/api/repos``: the kill-switches."""

from __future__ import annotations

import anyio
import orjson
from starlette.responses import Response

from hydra.api.models import (
    GlobalSwitchUpdate,
    GlobalView,
    LoopList,
    LoopUpdate,
    LoopUpdated,
    LoopView,
    RepoList,
    RepoUpdate,
    RepoUpdated,
    RepoView,
    TriggerRequest,
    TriggerView,
)
from hydra.api.operations import Call, Operation
from hydra.api.views import loop_fields, loop_view, switch_fields, switch_view, today
from hydra.loop_state import LoopState
from hydra.runtime import Runtime
from hydra.switches import SwitchError


async def list_loops(call: Call) -> Response:
    """A :class:`LoopList`, serialised straight from dicts: the dashboard polls this one, and
    building 20 validated views cost more than the rest of the request (the shape is pinned
    by a test against the model and by the schema fuzz)."""
    rt = call.rt
    day = today()
    loops = [loop_fields(rt, status, day=day) for status in rt.orchestrator.statuses()]
    global_ = switch_fields(rt.board.global_switch, rt.redactor.redact_text_cached)
    body = {"global": global_, "loops": loops}
    return Response(orjson.dumps(body), media_type="application/json")


async def get_loop(call: Call) -> LoopView:
    return loop_view(call.rt, call.rt.orchestrator.status(call.params["name"]))


async def update_loop(call: Call) -> LoopUpdated:
    rt, name, body = call.rt, call.params["name"], call.body
    assert isinstance(body, LoopUpdate)  # noqa: S101 - guaranteed by the operation table
    rt.orchestrator.status(name)  # 404 for an unknown loop before anything else
    event = await rt.board.update_loop(
        name,
        actor=call.actor,
        reason=body.reason,
        enabled=body.enabled,
        interval_s=body.interval_s,
        mode=body.mode,
        daily_budget_usd=body.daily_budget_usd,
        clear_budget="daily_budget_usd" in body.model_fields_set and body.daily_budget_usd is None,
        drain=body.drain,
    )
    budget_changed = (
        event is not None and event.before.daily_budget_usd != event.after.daily_budget_usd
    )
    if budget_changed and rt.budgets is not None:  # a cap lowered below today's spend bites now
        await rt.budgets.check_loop(name)
    view = loop_view(rt, rt.orchestrator.status(name))
    return LoopUpdated(**view.model_dump(), changed=event is not None)


def _trigger_refusal(rt: Runtime, name: str) -> str | None:
    """Why the orchestrator would refuse to trigger ``name`` now (404 raised for unknown)."""
    status = rt.orchestrator.status(name)
    if status.state == LoopState.BROKEN:
        return f"loop {name!r} is broken: {status.stop_reason}"
    blocked = rt.board.blocked_reason(name) or status.stop_reason
    return f"loop {name!r} cannot run: {blocked}" if blocked else None


async def trigger_loop(call: Call) -> TriggerView:
    """Audit first (durable before it takes effect), then ask the orchestrator for the tick."""
    rt, name, body = call.rt, call.params["name"], call.body
    assert isinstance(body, TriggerRequest)  # noqa: S101 - guaranteed by the operation table
    refusal = _trigger_refusal(rt, name)
    if refusal is not None:
        raise SwitchError("conflict", refusal)
    running = rt.orchestrator.status(name).running_run_id is not None
    control = await rt.audit.stream("control")
    # Shielded: once the record is on its way, the trigger (or its refusal) follows it.
    with anyio.CancelScope(shield=True):
        await control.append(
            "loop.triggered",
            actor=call.actor,
            payload={"loop": name, "reason": body.reason, "merged_into_running_tick": running},
        )
        late = _trigger_refusal(rt, name)  # switched off while the record was being written
        if late is None:
            merged = rt.orchestrator.trigger(name)
        else:
            await control.append(
                "loop.trigger_refused", actor=call.actor, payload={"loop": name, "reason": late}
            )
    if late is not None:
        raise SwitchError("conflict", late)
    return TriggerView(triggered=True, merged_into_running_tick=merged)


async def set_global(call: Call) -> GlobalView:
    body = call.body
    assert isinstance(body, GlobalSwitchUpdate)  # noqa: S101
    event = await call.rt.board.set_global(
        enabled=body.enabled, actor=call.actor, reason=body.reason, drain=body.drain
    )
    return GlobalView(
        global_=switch_view(call.rt, call.rt.board.global_switch), changed=event is not None
    )


def _repo_view(rt: Runtime, name: str) -> RepoView:
    switch = rt.board.repo_switch(name)
    return RepoView(
        name=name,
        enabled=switch.enabled,
        switch=switch_view(rt, switch),
        busy=rt.orchestrator.repo_scopes.busy(name),
    )


async def list_repos(call: Call) -> RepoList:
    return RepoList(repos=[_repo_view(call.rt, name) for name in call.rt.board.repos])


async def update_repo(call: Call) -> RepoUpdated:
    body = call.body
    assert isinstance(body, RepoUpdate)  # noqa: S101
    name = call.params["name"]
    event = await call.rt.board.update_repo(
        name, enabled=body.enabled, actor=call.actor, reason=body.reason
    )
    view = _repo_view(call.rt, name)
    return RepoUpdated(**view.model_dump(), changed=event is not None)


OPERATIONS = [
    Operation(
        "GET",
        "/api/loops",
        "List loops with status, switches and last result",
        list_loops,
        LoopList,
    ),
    Operation("GET", "/api/loops/{name}", "One loop", get_loop, LoopView, errors=(404,)),
    Operation(
        "PUT",
        "/api/loops/{name}",
        "Switch a loop on or off, change its interval, mode or budget (audited)",
        update_loop,
        LoopUpdated,
        body=LoopUpdate,
        errors=(404, 409),
    ),
    Operation(
        "POST",
        "/api/loops/{name}/trigger",
        "Run a tick now (merged with a running one; audited, with an optional reason)",
        trigger_loop,
        TriggerView,
        status=202,
        body=TriggerRequest,
        body_optional=True,
        errors=(404, 409),
    ),
    Operation(
        "PUT",
        "/api/switches/all",
        "The global switch: stop or resume every loop (audited)",
        set_global,
        GlobalView,
        body=GlobalSwitchUpdate,
    ),
    Operation(
        "GET",
        "/api/repos",
        "Managed repositories and their switches",
        list_repos,
        RepoList,
        tag="repos",
    ),
    Operation(
        "PUT",
        "/api/repos/{name}",
        "Switch a repository on or off for every loop (audited)",
        update_repo,
        RepoUpdated,
        body=RepoUpdate,
        errors=(404,),
        tag="repos",
    ),
]
