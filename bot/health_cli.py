"""`rimpllee health`: the supervisor's check, from the same config as `rimpllee run`.

Asks the process's own `/healthz` (on `http.host`/`http.port`, a wildcard host read as this
machine) and exits 0 only when it is up *and* ready (start-up done, the API serving), else 1 with
one line saying why. `--wait` keeps asking until it is ready, for `ExecStartPost=` in a systemd
unit (so `systemctl start` returns once the API serves).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bot.errors import StartupError

ASK_TIMEOUT_S = 5.0
WAIT_STEP_S = 0.5
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - read, not bound


def healthz_url(host: str, port: int) -> str:
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}/healthz" if ":" in host else f"http://{host}:{port}/healthz"


def _ask(url: str) -> tuple[bool, str]:
    """(ready, the line to print)."""
    try:
        with urllib.request.urlopen(url, timeout=ASK_TIMEOUT_S) as resp:  # noqa: S310 - http only
            body: dict[str, Any] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: up, but the gateway or the database is down
        try:
            body = json.loads(exc.read())
        except ValueError:
            return False, f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"nothing answers at {url} ({reason})"
    members = body.get("members") or {}
    state = (
        f"gateway {body.get('gateway')}, database {body.get('database')}, "
        f"members known in {members.get('known', '?')} of {members.get('servers', '?')} servers"
    )
    if body.get("ok") and body.get("ready"):
        return True, f"ready: {state}"
    return False, f"not ready: {state}"


def check(config_path: Path, wait_s: float = 0.0) -> str:
    """The line to print when the process is ready; `StartupError` (exit 1) when it isn't."""
    from bot.config import load_config  # noqa: PLC0415

    http = load_config(config_path, require_token=False).http
    url = healthz_url(http.host, http.port)
    deadline = time.monotonic() + wait_s
    while True:
        ready, line = _ask(url)
        if ready:
            return line
        if time.monotonic() >= deadline:
            raise StartupError(line)
        time.sleep(WAIT_STEP_S)
