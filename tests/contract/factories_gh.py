"""Contract factories for the GitHub adapters over the gh CLI.

Both run the real adapters against the fake ``gh`` of ``tests/adapters/gh_fake`` (a script
first on the adapters' ``PATH``, its state in a JSON file under the test's tmp dir). The
``changes`` harness "pushes" a branch by writing it into that state file
(``FakeGh.push_branch``): the fake's pull requests read their branches from there.
"""

from __future__ import annotations

from collections.abc import Mapping

from hydra.adapters.gh_changes import GhChanges
from hydra.adapters.gh_issues import GhIssues
from hydra.runner import Runner
from tests.adapters.gh_fake import FakeGh
from tests.contract.harness import BASE_FILES, ChangesHarness, FactoryContext
from tests.contract.registry import factory
from tests.runner._support import FakeClock, RecordingSink


def _runner() -> Runner:
    return Runner(cost_sink=RecordingSink(), clock=FakeClock())


@factory("issues", "gh-fake-cli")
def _gh_issues(ctx: FactoryContext) -> GhIssues:
    fake = FakeGh(ctx.tmp_path / "gh")
    return GhIssues(fake.repo, _runner(), env=fake.env(), timeout_s=30)


@factory("changes", "gh-fake-cli")
def _gh_changes(ctx: FactoryContext) -> ChangesHarness:
    fake = FakeGh(ctx.tmp_path / "gh", files=BASE_FILES)

    async def push_branch(branch: str, files: Mapping[str, bytes | None]) -> str:
        return fake.push_branch(branch, files)

    async def push_commit(branch: str, files: Mapping[str, bytes | None]) -> str:
        return fake.push_commit(branch, files)

    port = GhChanges(fake.repo, _runner(), env=fake.env(), timeout_s=30)
    return ChangesHarness(
        port=port, base=fake.base, push_branch=push_branch, push_commit=push_commit
    )
