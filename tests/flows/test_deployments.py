"""`prefect.yaml` against a real Prefect server: `make deploy` twice, then read it back.

`make deploy` creates the process work pool when missing and runs
`prefect --no-prompt deploy --all` from the repository root; the second run must change nothing
but the deployments' `updated` time (same ids, one schedule each).
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect.client.orchestration import get_client

from tests.flows.prefect_server import REPO, PrefectServer, client_settings, describe, run_cli
from tests.flows.prefect_server import prefect_server as prefect_server

FLOW = "newsmon-monitor"
POOL = "newsmon-pool"


def make_deploy(server: PrefectServer) -> None:
    """`make deploy` against `server` (the venv is taken as installed)."""
    proc = run_cli(
        ["make", "-s", "-o", ".venv/bin/.installed", "deploy", f"PREFECT_PORT={server.port}"],
        server.subprocess_env(),
        timeout=240,
    )
    assert proc.returncode == 0, describe(proc)
    assert "nk-russia-sample" in proc.stdout and "nk-russia-live" in proc.stdout


async def read_state(server: PrefectServer) -> dict[str, Any]:
    """Deployments of the newsmon flow (by name) and the work pool, via the Prefect client."""
    with client_settings(server):
        async with get_client() as client:
            flow = await client.read_flow_by_name(FLOW)
            deps = await client.read_deployments(limit=50)
            pool = await client.read_work_pool(POOL)
    return {"flow_id": flow.id, "deployments": {d.name: d for d in deps}, "pool": pool}


def test_make_deploy_is_idempotent_and_creates_scheduled_limited_deployments(
    prefect_server: PrefectServer,
) -> None:
    make_deploy(prefect_server)
    first = asyncio.run(read_state(prefect_server))
    make_deploy(prefect_server)
    second = asyncio.run(read_state(prefect_server))

    deps = second["deployments"]
    assert sorted(deps) == ["nk-russia-live", "nk-russia-sample"]
    assert {n: d.id for n, d in deps.items()} == {
        n: d.id for n, d in first["deployments"].items()
    }, "a second deploy must update the deployments, not create new ones"
    assert second["pool"].type == "process"

    expected = {
        "nk-russia-sample": ("config/sample.yaml", True),
        "nk-russia-live": ("config/live.yaml", False),
    }
    for name, (monitor, active) in expected.items():
        d = deps[name]
        assert d.flow_id == second["flow_id"]
        assert d.entrypoint == "flows/monitor_flow.py:monitor_flow"
        assert d.work_pool_name == POOL
        assert d.parameters == {"monitor": monitor}
        assert sorted(d.tags) == sorted(["newsmon", name])
        # one cron schedule (not one per deploy), active only for the offline sample monitor
        assert len(d.schedules) == 1
        sched = d.schedules[0]
        assert getattr(sched.schedule, "cron", None) == "*/30 * * * *"
        assert getattr(sched.schedule, "timezone", None) == "UTC"
        assert sched.active is active
        # at most one run at a time; a run due while one is going waits its turn
        assert d.global_concurrency_limit is not None
        assert d.global_concurrency_limit.limit == 1
        assert d.concurrency_options is not None
        assert d.concurrency_options.collision_strategy == "ENQUEUE"
        # the pull step's {{ $PWD }} resolved at deploy time to the repository root
        assert d.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
        ]
