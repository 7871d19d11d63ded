"""``/api/escalations``: the human-escalation queue (list, detail, acknowledge, resolve)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from hydra.api.models import EscalationList, EscalationNote, EscalationView
from hydra.api.operations import ApiError, Call, Operation
from hydra.api.views import escalation_view
from hydra.escalations import EscalationQueue
from hydra.sdk import Escalation


class EscalationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "acknowledged", "resolved"] | None = None


def _queue(call: Call) -> EscalationQueue:
    if call.rt.escalations is None:
        raise ApiError(404, "this daemon has no escalation queue")
    return call.rt.escalations


def view(call: Call, item: Escalation) -> EscalationView:
    return escalation_view(call.rt.redactor, item)


async def list_escalations(call: Call) -> EscalationList:
    query = call.query
    assert isinstance(query, EscalationQuery)  # noqa: S101 - guaranteed by the operation table
    return EscalationList(escalations=[view(call, e) for e in _queue(call).list(query.state)])


async def get_escalation(call: Call) -> EscalationView:
    return view(call, _queue(call).get(call.params["id"]))


async def acknowledge(call: Call) -> EscalationView:
    return await _transition(call, "acknowledged")


async def resolve(call: Call) -> EscalationView:
    return await _transition(call, "resolved")


async def _transition(call: Call, to: Literal["acknowledged", "resolved"]) -> EscalationView:
    body = call.body
    assert isinstance(body, EscalationNote)  # noqa: S101
    item = await _queue(call).transition(call.params["id"], to=to, actor=call.actor, note=body.note)
    return view(call, item)


OPERATIONS = [
    Operation(
        "GET",
        "/api/escalations",
        "The human-escalation queue, newest first",
        list_escalations,
        EscalationList,
        query=EscalationQuery,
        errors=(404,),
        tag="escalations",
    ),
    Operation(
        "GET",
        "/api/escalations/{id}",
        "One escalation",
        get_escalation,
        EscalationView,
        errors=(404,),
        tag="escalations",
    ),
    Operation(
        "POST",
        "/api/escalations/{id}/acknowledge",
        "Acknowledge an escalation with a note (audited)",
        acknowledge,
        EscalationView,
        body=EscalationNote,
        errors=(404, 409),
        tag="escalations",
    ),
    Operation(
        "POST",
        "/api/escalations/{id}/resolve",
        "Resolve an escalation with a note (audited)",
        resolve,
        EscalationView,
        body=EscalationNote,
        errors=(404, 409),
        tag="escalations",
    ),
]
