"""Transcript files under the data directory: `<root>/<guild>/transcript-<number>-<name>.html`."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.core.models import Ticket
from bot.core.transcripts import with_rating
from bot.store.private import private_dir, write_private


class TranscriptFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, ticket: Ticket, filename: str, html: str) -> str:
        """Written whole or not at all (temp file, then rename), so a crash leaves no half file."""
        folder = self.root / str(ticket.guild_id)
        private_dir(folder)
        path = folder / re.sub(r"[^A-Za-z0-9._-]", "_", filename)
        temp = path.with_suffix(".tmp")
        write_private(temp, html)
        os.replace(temp, path)
        return str(path)

    def add_rating(self, path: str, rating: int, comment: str | None) -> None:
        """The opener rated the ticket after it closed: the saved transcript shows it too."""
        saved = Path(path)
        document = saved.read_text("utf-8")
        temp = saved.with_suffix(".tmp")
        write_private(temp, with_rating(document, rating, comment))
        os.replace(temp, saved)
