"""Transcript folders under the data directory, one per ticket:

    <root>/<guild>/transcript-<number>-<name>/
        transcript-<number>-<name>.html
        assets/time.js  assets/files/…  assets/avatars/…  assets/emoji/…

The folder is the transcript: copy or zip it and it opens anywhere, offline. Every file is written
whole or not at all (a temp file, then a rename), so a crash leaves no half file; the HTML is
assembled from a body written a page of messages at a time, so a long ticket is never held whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from importlib import resources
from pathlib import Path

from bot.core.models import Ticket
from bot.core.transcripts import with_rating
from bot.store.private import open_private, private_dir

_ASSET_PATH = re.compile(r"assets/(?:files|avatars|emoji)/[A-Za-z0-9][A-Za-z0-9._-]{0,150}")
TIME_SCRIPT = "assets/time.js"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "transcript"


def _write_whole(path: Path, data: bytes) -> None:
    temp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")  # two writers never share one
    with open_private(temp, "wb") as out:
        out.write(data)
    os.replace(temp, path)


class TranscriptFolder:
    """One transcript being written; `finish` puts the HTML in place."""

    def __init__(self, folder: Path, filename: str) -> None:
        self.folder = folder
        self.html = folder / filename
        unique = secrets.token_hex(4)  # a /ticket transcript while the ticket closes: two drafts
        self._body = folder / f"{filename}.{unique}.body.tmp"
        self._temp = folder / f"{filename}.{unique}.tmp"
        private_dir(folder)
        open_private(self._body, "wb").close()

    def write_asset(self, path: str, data: bytes) -> None:
        """`path` as the renderer writes it (`assets/files/…`); anything else is refused."""
        if not _ASSET_PATH.fullmatch(path) or ".." in path:
            raise ValueError(f"not a transcript asset path: {path!r}")
        target = (self.folder / path).resolve()
        if not target.is_relative_to((self.folder / "assets").resolve()):
            raise ValueError(f"{path!r} leaves the transcript's folder")
        private_dir(target.parent)
        _write_whole(target, data)

    def write_body(self, html: str) -> None:
        with open_private(self._body, "a") as out:
            out.write(html)

    def finish(self, head: str, tail: str) -> tuple[str, int]:
        """Head, body and tail into the HTML file, plus the time script; (path, size in bytes)."""
        script = self.folder / TIME_SCRIPT
        private_dir(script.parent)
        _write_whole(
            script, resources.files("bot.store").joinpath("transcript_time.js").read_bytes()
        )
        with open_private(self._temp) as out:
            out.write(head)
            with self._body.open(encoding="utf-8") as body:
                shutil.copyfileobj(body, out)
            out.write(tail)
        os.replace(self._temp, self.html)
        self._body.unlink(missing_ok=True)
        return str(self.html), self.html.stat().st_size

    def discard(self) -> None:
        """After a failure: the half-written parts go (saved assets stay for the next try)."""
        for temp in (self._body, self._temp):
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)


class TranscriptFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def open(self, ticket: Ticket, filename: str) -> TranscriptFolder:
        name = _safe(filename)
        folder = self.root / str(ticket.guild_id) / name.removesuffix(".html")
        return TranscriptFolder(folder, name)

    def add_rating(self, path: str, rating: int, comment: str | None) -> None:
        """The opener rated the ticket after it closed: the saved transcript shows it too."""
        saved = Path(path)
        _write_whole(saved, with_rating(saved.read_text("utf-8"), rating, comment).encode())
