"""No throwaway PostgreSQL server outlives the test session that started it (tests/pg_keeper.py).

Each test starts a real session as a process (tests/postgres.py's `postgres_server`, as the
suite's fixture uses it), ends it the way a test run gets killed, and watches the real server
process and its directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import pg_keeper, postgres

ROOT = Path(__file__).resolve().parent.parent
SESSION = """
import sys, time
from tests import postgres
with postgres.postgres_server() as server:
    print(server.root, flush=True)
    time.sleep(600)
"""
BOUND = 60.0  # seconds a keeper may take to stop its server on a loaded machine


@pytest.fixture(autouse=True)
def _needs_postgres() -> None:
    reason = postgres.missing_reason()
    if reason is not None:
        pytest.skip(reason)


@dataclass
class Session:
    process: subprocess.Popen[str]
    root: Path
    keeper: int
    postmaster: int


@contextlib.contextmanager
def session() -> Iterator[Session]:
    """A process holding a server, as a pytest session does; killed at the end if still there."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", SESSION], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    ) as process:
        try:
            assert process.stdout is not None
            root = Path(process.stdout.readline().strip())
            info = json.loads((root / pg_keeper.OWNER_FILE).read_text())
            postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
            assert info["owner"] == process.pid
            assert alive(postmaster)
            yield Session(process, root, info["keeper"], postmaster)
        finally:
            if process.poll() is None:
                process.kill()


def alive(pid: int) -> bool:
    return pg_keeper.start_time(pid) is not None


def wait_for_exit(pid: int) -> None:
    """Block until process `pid` (not necessarily our child) has ended, at most BOUND seconds."""
    with contextlib.suppress(ProcessLookupError):
        pidfd = os.pidfd_open(pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], BOUND)
        finally:
            os.close(pidfd)
        assert ready, f"process {pid} still runs after {BOUND}s"


@pytest.mark.parametrize(
    "how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda how: how.name
)
def test_the_server_ends_with_the_session_however_it_ends(how: signal.Signals) -> None:
    with session() as held:
        held.process.send_signal(how)
        held.process.wait()
        wait_for_exit(held.keeper)
        assert not alive(held.postmaster)
        assert not held.root.exists()


def test_a_server_whose_keeper_was_killed_too_is_swept_only_once_its_session_is_gone() -> None:
    with session() as held:
        os.kill(held.keeper, signal.SIGKILL)
        wait_for_exit(held.keeper)
        # Another session, running now: its server is not ours to stop.
        assert held.root not in pg_keeper.sweep(Path(tempfile.gettempdir()))
        assert alive(held.postmaster)
        assert held.root.exists()

        held.process.kill()
        held.process.wait()
        assert alive(held.postmaster)  # nobody left to stop it: the next session's sweep does
        assert held.root in pg_keeper.sweep(Path(tempfile.gettempdir()))
        wait_for_exit(held.postmaster)
        assert not held.root.exists()
