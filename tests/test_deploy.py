"""The systemd units in deploy/: systemd itself reads them, and they run what the README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"rimpllee.service": "rimpllee.service", "rimpllee@.service": "rimpllee@0-3.service"}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
@pytest.mark.parametrize("unit", sorted(UNITS))
def test_systemd_reads_the_unit_without_a_complaint(unit: str, tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, installed as if the checkout were /opt/rimpllee with
    the tests' virtualenv (it checks that the commands exist and are executable, and names every
    unknown key)."""
    text = (ROOT / "deploy" / unit).read_text()
    text = text.replace("/opt/rimpllee/.venv/bin", str(Path(sys.executable).parent))
    text = text.replace("/opt/rimpllee", str(ROOT))
    (tmp_path / unit).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / UNITS[unit])],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_the_units_run_the_bot_and_wait_for_it_to_be_ready() -> None:
    single = (ROOT / "deploy" / "rimpllee.service").read_text()
    assert "ExecStart=/opt/rimpllee/.venv/bin/rimpllee run --config /etc/rimpllee/config.toml" in (
        single
    )
    assert "rimpllee health --config /etc/rimpllee/config.toml --wait" in single
    templated = (ROOT / "deploy" / "rimpllee@.service").read_text()
    assert "rimpllee run --config /etc/rimpllee/shards-%i.toml" in templated
    assert "rimpllee health --config /etc/rimpllee/shards-%i.toml --wait" in templated
    # The bot stops within 8 s by default: systemd must not kill it first.
    for text in (single, templated):
        assert "TimeoutStopSec=15" in text
        assert "KillSignal=SIGTERM" in text
