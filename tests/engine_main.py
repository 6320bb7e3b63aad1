"""`rimpllee` as the tests start it: on the PostgreSQL run, the paths it opens are the same
PostgreSQL databases the test opens (tests/postgres.py); otherwise exactly `python -m bot`.

Run as a script (the tests' working directories are elsewhere), so it finds the checkout itself.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import pytest

    from bot.cli import main
    from tests.postgres import PostgresFiles

    files = PostgresFiles.from_environment()
    if files is not None:
        files.install(pytest.MonkeyPatch())
    sys.argv[0] = "rimpllee"
    main()


if __name__ == "__main__":
    _main()
