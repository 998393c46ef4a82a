"""Redis hangs (the process is frozen, or the network drops packets) rather than stops: the
rate-limited routes must still answer within a second. A stopped Redis refuses connections
at once; a hung one leaves a client without socket timeouts waiting for ever."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, csrf_token, make_org
from tests.tasks.workers import Stack, stack

pytestmark = [pytest.mark.postgres_only, pytest.mark.private_redis]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("redis-hang")) as running:
        yield running


def _timed(call: Any, limit: float = 5.0) -> tuple[int | None, float]:
    """(status, seconds) of a request, or (None, limit) if it is still waiting."""
    out: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        out["status"] = call().status_code
        out["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    return out.get("status"), out.get("seconds", limit)


def test_sign_in_and_tokens_do_not_wait_on_a_hung_redis(rig: Stack) -> None:
    session = rig.app.extensions["cadence.db"].session
    try:
        org = make_org(session, "hang")
        email, slug = org.carer.email, org.slug
    finally:
        session.remove()
    client = rig.app.test_client()
    form = {"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    assert rig.redis.process is not None
    rig.redis.process.send_signal(signal.SIGSTOP)
    try:
        signed_in = _timed(lambda: client.post("/auth/sign-in", data=form))
        token = _timed(
            lambda: client.post(
                "/api/v1/tokens", json={"email": email, "password": PASSWORD, "organisation": slug}
            )
        )
        time.sleep(1.1)  # the limiter looks at its storage again now and then, on any route
        today = [_timed(lambda: client.get(f"/o/{slug}/today")) for _ in range(3)]
    finally:
        rig.redis.process.send_signal(signal.SIGCONT)
    assert signed_in[0] == 302 and signed_in[1] < 1.0, signed_in
    assert token[0] == 201 and token[1] < 1.0, token
    assert all(status == 200 and seconds < 1.0 for status, seconds in today), today
