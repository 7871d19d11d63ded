"""Property-based fuzz of /openapi.json against the real daemon (schemathesis).

The schema is loaded from the running ``hydra run`` (``--demo`` world, seeded with costs and
escalations). Every documented operation except the never-ending SSE feed gets generated
requests: schema-conforming ones, and schema-violating ones where an input can be invalid (a
body or a query string). Every response must be a documented status with the documented
content type, headers and body schema, none may be a 5xx, ``/api`` must refuse the request
without the token, and a body that violates its schema must be refused.

Bounded and deterministic: ``MAX_EXAMPLES`` per operation and mode, Hypothesis'
derandomized generation (the seed derives from the test, not the clock), a per-example
deadline and an HTTP timeout, and no example database.

The pytest plugin's lazy ``from_fixture`` loader does not run on pytest 9 (it reads the
removed ``Node._nodeid``), so each operation is a plain parametrized test driving
``APIOperation.as_strategy`` with Hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import hypothesis
import pytest
import schemathesis
from schemathesis import BaseSchema, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from hydra.api.app import EXTRA_PATHS, OPERATIONS
from hydra.api.openapi import build_openapi
from hydra.audit import AuditLog
from hydra.costs import CostLedger
from hydra.escalations import EscalationQueue
from tests.helpers.daemon import Daemon, daemon

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 50
"""Per operation and mode (an operation without inputs is one example): ~1,200 requests."""
DEADLINE = timedelta(seconds=5)
"""Per example (one request and its checks); the HTTP timeout is the same."""
REPO = "fuzzrepo"
LOOPS_AND_REPOS = ["health", REPO]
STREAMS = ["control", "costs", "escalations", "health"]
ESCALATIONS = ["esc-1", "esc-2", "esc-3"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
BODY_CHECKS = [*CHECKS, negative_data_rejection]
"""A schema-violating body must be refused. Not applied to query strings: there a generated
``false`` for a string parameter is the valid string "false", a false alarm."""


async def _seed(data_dir: Path) -> None:
    """Costs and escalations for the daemon to serve (through the runtime's own classes)."""
    async with AuditLog(data_dir / "audit") as audit:
        ledger = CostLedger(await audit.stream("costs"))
        for i, source in enumerate(("agent.claude", "agent.codex", "gh")):
            await ledger.record(
                source=source,
                loop="health",
                run=f"run-{i}",
                model="m",
                input_tokens=10 * i,
                output_tokens=i,
                usd=0.01 * i,
            )
        queue = await EscalationQueue.load(
            data_dir / "state" / "escalations.json", await audit.stream("escalations")
        )
        for key in ("a", "b", "c"):
            await queue.escalate(loop="health", key=key, title=f"t {key}", summary="s")
        await queue.transition("esc-1", to="resolved", actor="cli", note="done")


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    work = tmp_path_factory.mktemp("fuzz") / REPO
    work.mkdir()
    data = work / ".hydra"
    anyio.run(_seed, data)
    with daemon(work, args=["--demo"], data_dir=data) as d:
        yield d
        assert d.stop() == 0


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_daemon: Daemon) -> BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "headers": {"Authorization": f"Bearer {fuzz_daemon.token}"},
            "request-timeout": DEADLINE.total_seconds(),
            "generation": {
                "deterministic": True,
                "database": "none",
            },
            "dictionaries": {
                "names": {"values": LOOPS_AND_REPOS},
                "streams": {"values": STREAMS},
                "escalations": {"values": ESCALATIONS},
            },
            "parameters": {
                "path.name": {"dictionary": "names", "probability": 0.5},
                "path.stream": {"dictionary": "streams", "probability": 0.5},
                "path.id": {"dictionary": "escalations", "probability": 0.5},
            },
        }
    )
    schema = schemathesis.openapi.from_url(fuzz_daemon.url + "/openapi.json", config=config)
    return schema.exclude(path="/api/events")


SKIPPED = {"/api/events"}
"""Never ends: covered in-process by tests/api/test_api_events.py."""
SCHEMA_ITSELF = "GET /openapi.json"
"""schemathesis leaves out the operation that serves the schema it loaded."""


def _cases() -> list[tuple[str, GenerationMode]]:
    """Every documented operation, positive; negative too where an input can be invalid."""
    cases = []
    for path, item in build_openapi(OPERATIONS, EXTRA_PATHS)["paths"].items():
        if path in SKIPPED:
            continue
        for method, spec in item.items():
            label = f"{method.upper()} {path}"
            cases.append((label, GenerationMode.POSITIVE))
            has_query = any(p["in"] == "query" for p in spec.get("parameters", []))
            if "requestBody" in spec or has_query:  # path parameters are free strings
                cases.append((label, GenerationMode.NEGATIVE))
    return sorted(cases)


CASES = _cases()


def test_the_fuzzed_operations_are_every_documented_one(fuzz_schema: BaseSchema) -> None:
    served = {result.ok().label for result in fuzz_schema.get_all_operations()}
    documented = {label for label, _ in CASES}
    assert served == documented - {SCHEMA_ITSELF}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{lbl}-{m}" for lbl, m in CASES])
def test_operation_answers_within_its_schema(
    fuzz_schema: BaseSchema, fuzz_daemon: Daemon, label: str, mode: GenerationMode
) -> None:
    method, path = label.split(" ", 1)
    operation = fuzz_schema[path][method]
    headers = {"Authorization": f"Bearer {fuzz_daemon.token}"}
    has_body = operation.body is not None and len(operation.body) > 0
    checks = BODY_CHECKS if mode is GenerationMode.NEGATIVE and has_body else CHECKS

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=DEADLINE,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=checks, timeout=DEADLINE.total_seconds())

    run()
