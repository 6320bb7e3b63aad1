"""The process that owns a test session's throwaway PostgreSQL server (tests/postgres.py).

A pytest run that is killed (SIGKILL, a timeout, Ctrl-C twice) runs no finalizer, and a server
started with `pg_ctl` outlives it. So the server is not the test process's: this keeper, in a
session of its own (Ctrl-C at the terminal doesn't reach it), creates the directory, starts the
server, says so on stdout, then waits for the first of: its stdin closing (the owner stopped it,
or the owner died and the kernel closed the pipe), the owner process ending (its pidfd, for a
forked child that kept the pipe open), or SIGTERM. Then it stops the server and deletes the
directory. Whatever ends the owner, the server goes with it.

Each directory records its owner and keeper (`owner.json`, with each process's start time so a
reused pid doesn't count): if both are gone and the directory is still there (the keeper itself
was SIGKILLed), the next session's `sweep` removes it; a directory whose owner or keeper still
runs belongs to a session running now and is left alone.

Standard library only, run as a script: it must start fast and import nothing of the bot.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PREFIX = "rimpllee-pg-"
OWNER_FILE = "owner.json"


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot, /proc/PID/stat field 22), or None if it
    is not running (gone, or a zombie: finished but not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def running(pid: int, started: int) -> bool:
    """The process `pid` that started at `started` still runs (not another one given its pid)."""
    return start_time(pid) == started


def stop_server(root: Path, bin_dir: Path, as_user: list[str]) -> None:
    """Stop the server in ROOT/data at once, if one runs, and delete ROOT."""
    if (root / "data" / "postmaster.pid").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate"]
            subprocess.run(
                [*as_user, *pg_ctl, "stop"],
                check=False,  # no server running there is fine
                capture_output=True,
                timeout=60,
            )
    shutil.rmtree(root, ignore_errors=True)


def stale(root: Path) -> dict[str, Any] | None:
    """ROOT's owner.json when neither its owner nor its keeper runs any more, else None (a live
    session's directory, or one without the file: being created, or not made by a keeper)."""
    try:
        info: dict[str, Any] = json.loads((root / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if running(info["owner"], info["owner_start"]) or running(info["keeper"], info["keeper_start"]):
        return None
    return info


def sweep(tmp: Path) -> list[Path]:
    """Stop and delete the servers under TMP whose sessions are gone; returns their directories."""
    removed = []
    for root in sorted(tmp.glob(f"{PREFIX}*")):
        info = stale(root)
        if info is not None:
            stop_server(root, Path(info["bin"]), info["as_user"])
            removed.append(root)
    return removed


def _run(as_user: list[str], *args: str) -> None:
    subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)


def _start(root: Path, bin_dir: Path, port: int, as_user: list[str]) -> None:
    _run(
        as_user,
        str(bin_dir / "initdb"),
        "-D",
        str(root / "data"),
        "-U",
        "rimpllee",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
    )
    # Durability is not what the tests check: no fsync makes each test's database cheap.
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=300 -c shared_buffers=64MB"
    )
    _run(
        as_user,
        str(bin_dir / "pg_ctl"),
        "-D",
        str(root / "data"),
        "-o",
        options,
        "-l",
        str(root / "server.log"),
        "-w",
        "start",
    )


def _wait_for_the_end(owner: int, owner_start: int) -> None:
    """Return once stdin reaches EOF or the owner process has ended."""
    poll = select.poll()
    poll.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP)
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):  # no pidfd: checked on each timeout
        pidfd = os.pidfd_open(owner)
        poll.register(pidfd, select.POLLIN)
    while running(owner, owner_start):
        for fd, _ in poll.poll(None if pidfd is not None else 500):
            if fd == sys.stdin.fileno() and not os.read(fd, 4096):
                return
            if fd == pidfd:
                return


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--owner", type=int, required=True, help="the test process's pid")
    parser.add_argument("--bin", type=Path, required=True, help="initdb and pg_ctl are here")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", help="run initdb and the server as this system user (as root)")
    args = parser.parse_args()
    owner_start = start_time(args.owner)
    if owner_start is None:
        _say({"error": f"the owner process {args.owner} is not running"})
        return 1
    # SIGTERM ends the wait like the owner's end: through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    as_user = ["runuser", "-u", args.user, "--"] if args.user else []
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        keeper_start = start_time(os.getpid())
        info = {
            "owner": args.owner,
            "owner_start": owner_start,
            "keeper": os.getpid(),
            "keeper_start": keeper_start,
            "bin": str(args.bin),
            "as_user": as_user,
        }
        (root / f"{OWNER_FILE}.new").write_text(json.dumps(info))
        (root / f"{OWNER_FILE}.new").rename(root / OWNER_FILE)
        if args.user:
            # initdb and postgres refuse root: the directory is the system user's.
            user = pwd.getpwnam(args.user)
            os.chown(root, user.pw_uid, user.pw_gid)
        try:
            _start(root, args.bin, args.port, as_user)
        except subprocess.CalledProcessError as failed:
            _say({"error": f"{' '.join(map(str, failed.cmd))}: {failed.stderr or failed.stdout}"})
            return 1
        _say({"root": str(root)})
        # Nobody may read stderr any more once the owner is gone: nothing more is written to it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stderr.fileno())
        _wait_for_the_end(args.owner, owner_start)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM can't cut the cleanup
        stop_server(root, args.bin, as_user)


if __name__ == "__main__":
    sys.exit(main())
