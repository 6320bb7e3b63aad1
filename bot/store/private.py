"""Files only the bot's user can read (0600) in folders only it can enter (0700), whatever the
umask: the database holds API key hashes and members' answers, transcripts their conversations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any


def private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700; folders that exist are left as they are."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)


def private_file(path: Path) -> None:
    """Create `path` empty as 0600 if absent (SQLite gives its -wal and -shm the same mode)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)


def open_private(path: Path, mode: str = "w") -> IO[Any]:
    """`open(path, mode)` for writing ("w", "wb" or "a"), creating the file as 0600 (a umask can
    only take bits away, never add them)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")


def write_private(path: Path, text: str) -> None:
    with open_private(path) as file:
        file.write(text)
