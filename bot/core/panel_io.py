"""The panels file from the dashboard: export the server's panels, import a file over them.

The same format, loader and checks as `rimpllee panel export` / `import` (`panel_file`); unlike
the shell, the bot is connected, so after an import every posted panel that changed is refreshed
in place and the messages of removed panels are deleted, as `PanelService` does after a change.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Protocol

from bot.core.errors import AdminError
from bot.core.limits import Clock
from bot.core.models import Panel
from bot.core.panel_file import dump_panels, read_panel_file
from bot.core.panels import PanelMessages

FILE_MAX_BYTES = 1024 * 1024


class PanelFileStore(Protocol):
    async def list_panels(self, guild_id: int) -> list[Panel]: ...

    async def save(self, panel: Panel, now: float) -> None: ...

    async def replace_all(self, guild_id: int, panels: list[Panel], now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Imported:
    panels: list[Panel]
    removed: list[Panel]
    new_ids: tuple[str, ...]


class PanelFiles:
    def __init__(
        self, store: PanelFileStore, messages: PanelMessages, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._messages = messages
        self._clock = clock

    async def export(self, guild_id: int) -> str:
        return dump_panels(await self._store.list_panels(guild_id))

    async def import_file(self, guild_id: int, text: str, source: str) -> Imported:
        """Make the server's panels exactly the file's, all or nothing; raises `AdminError`
        (`PanelFileError` naming file:line and key) and writes nothing if any of it is wrong."""
        if len(text.encode()) > FILE_MAX_BYTES:
            raise AdminError(f"{source}: the file is over {FILE_MAX_BYTES // 1024} KiB")
        file = read_panel_file(text.removeprefix("\ufeff"), source=source, guild_id=guild_id)
        before = {p.panel_id: p for p in await self._store.list_panels(guild_id)}
        file.check_ids_stay(list(before.values()))
        try:
            await self._store.replace_all(guild_id, file.panels, self._clock())
        except AdminError as error:  # an ID another server uses: nothing was written
            raise AdminError(f"{source}: {error}") from None
        kept = {p.panel_id for p in file.panels}
        removed = [p for p in before.values() if p.panel_id not in kept]
        for panel in file.panels:
            if panel.message_id is not None and before.get(panel.panel_id) != panel:
                await self._refresh(panel)
        for panel in removed:
            if panel.message_id is not None:
                await self._messages.delete_panel_message(panel)
        return Imported(file.panels, removed, file.new_ids)

    async def _refresh(self, panel: Panel) -> None:
        if not await self._messages.edit_panel(panel):
            # The message is gone: the panel is no longer posted anywhere.
            gone = dataclasses.replace(panel, channel_id=None, message_id=None)
            await self._store.save(gone, self._clock())
