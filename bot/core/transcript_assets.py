"""What a transcript keeps beside it: attachments, avatars and custom emoji, saved when it is made.

Discord's attachment links are signed and expire after about a day, so a transcript that only
linked them would lose every screenshot within a week. Each file is downloaded once while the
transcript is made and written under the transcript's `assets/` folder:

    assets/files/<message id>-<n>-<name>   attachments (images renamed to the type of their bytes)
    assets/avatars/<user id>.<png|jpg|gif|webp>   one per person in the conversation
    assets/emoji/<emoji id>.<png|jpg|gif|webp>    custom emoji used in messages

Bounded: a per-file and a per-transcript size limit, a few downloads at a time, a timeout per file
and one for the whole transcript. What is over a limit, or failed, stays a link and the transcript
says why; a download never fails the transcript (nor the close that makes it).

Nothing is trusted from the name: whether a file is an image is read from its first bytes; names
are reduced to `[A-Za-z0-9._-]` behind a prefix of digits, so no path can leave the folder; a file
a browser would run (HTML, SVG, scripts, or bytes that look like markup) gets `.txt` appended, so
opening it shows text.

The bytes come from the Discord side (`AssetSource`); this module decides what to keep.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from bot.core.errors import DiscordFailure
from bot.core.transcripts import (
    ASSETS_DIR,
    SavedFile,
    TranscriptAttachment,
    TranscriptAuthor,
    TranscriptForward,
    TranscriptMessage,
    custom_emoji,
    human_size,
)

_LOG = logging.getLogger("rimpllee.transcripts")

MB = 1024 * 1024
FILE_MAX_MB = 10  # Discord's own upload limit for most members: nearly every attachment fits
TOTAL_MAX_MB = 100
ICON_MAX_BYTES = 2 * MB  # an avatar or an emoji (Discord's are far smaller)
CONCURRENCY = 4
FILE_TIMEOUT_S = 20.0
TOTAL_TIMEOUT_S = 120.0
NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class AssetLimits:
    file_max_bytes: int = FILE_MAX_MB * MB
    total_max_bytes: int = TOTAL_MAX_MB * MB
    concurrency: int = CONCURRENCY
    file_timeout_s: float = FILE_TIMEOUT_S
    total_timeout_s: float = TOTAL_TIMEOUT_S


class AssetSource(Protocol):
    """Where the bytes come from (the Discord port)."""

    async def fetch_file(self, url: str, max_bytes: int) -> bytes | None:
        """The file's bytes; None if it is larger than `max_bytes`. Raises `DiscordFailure`."""
        ...

    def emoji_url(self, emoji_id: int, animated: bool) -> str: ...


class AssetSink(Protocol):
    """Where the files go: the transcript's folder (`path` is relative to its HTML)."""

    def write_asset(self, path: str, data: bytes) -> None: ...


# -- content types, from the bytes ------------------------------------------------------------

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
# Formats a browser shows as themselves, never as a page.
_INERT_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"OggS", b"fLaC")
# Extensions a browser runs or renders as a document when the file is opened.
_ACTIVE_EXTENSIONS = frozenset(
    [
        "htm",
        "html",
        "xhtml",
        "xht",
        "shtml",
        "mht",
        "mhtml",
        "svg",
        "svgz",
        "xml",
        "xsl",
        "xslt",
        "js",
        "mjs",
        "hta",
        "php",
    ]
)
_MARKUP = re.compile(rb"<\s*[!?a-zA-Z/]")


def image_type(data: bytes) -> str | None:
    """ "png", "jpg", "gif" or "webp" if the bytes are one (by their magic number), else None."""
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _runs_in_a_browser(name: str, data: bytes) -> bool:
    if name.rpartition(".")[2].lower() in _ACTIVE_EXTENSIONS:
        return True
    if data.startswith(_INERT_MAGIC):
        return False
    return _MARKUP.search(data[:1024]) is not None


def safe_filename(name: str) -> str:
    """A name made only of `[A-Za-z0-9._-]`, without a leading dot, at most NAME_MAX long."""
    base = re.split(r"[/\\]", name)[-1]
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", base)
    clean = re.sub(r"\.{2,}", ".", clean).strip("._-") or "file"
    if len(clean) > NAME_MAX:
        stem, dot, ext = clean.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            clean = f"{stem[: NAME_MAX - len(ext) - 1].rstrip('._-')}.{ext}"
        else:
            clean = clean[:NAME_MAX].rstrip("._-")
    return clean


def _with_extension(name: str, ext: str) -> str:
    stem, dot, _ = name.rpartition(".")
    return f"{stem if dot and stem else name}.{ext}"


# -- the downloads ------------------------------------------------------------------------------


class _Skip(Exception):
    """Not saved, and why (shown in the transcript)."""


class TranscriptAssets:
    """Saves what one transcript's messages show, a page of messages at a time."""

    def __init__(
        self,
        source: AssetSource,
        sink: AssetSink,
        limits: AssetLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._sink = sink
        self._limits = limits or AssetLimits()
        self._clock = clock
        self._slots = asyncio.Semaphore(self._limits.concurrency)
        self._deadline: float | None = None
        self._used = 0  # bytes saved or reserved by downloads in flight
        self._avatars: dict[int, SavedFile | None] = {}
        self.emoji: dict[int, SavedFile] = {}  # read by the renderer
        self._emoji_tried: set[int] = set()
        self.saved_files = 0
        self.saved_bytes = 0
        self._not_saved: Counter[str] = Counter()

    def summary(self) -> str | None:
        """One sentence for the transcript's header about attachments that stayed links."""
        total = sum(self._not_saved.values())
        if not total:
            return None
        reasons = "; ".join(f"{n} {why}" for why, n in self._not_saved.most_common())
        return (
            f"{total} attachment{'' if total == 1 else 's'} not saved with this transcript "
            f"({reasons}): {'it stays a link' if total == 1 else 'they stay links'} to Discord, "
            "which expire."
        )

    async def save_page(self, messages: Sequence[TranscriptMessage]) -> list[TranscriptMessage]:
        """The same messages, their saved files filled in."""
        if self._deadline is None:
            self._deadline = self._clock() + self._limits.total_timeout_s
        jobs: list[Awaitable[None]] = []
        for msg in messages:
            author = msg.author
            if author.id not in self._avatars and author.avatar_url:
                self._avatars[author.id] = None
                jobs.append(self._avatar(author.id, author.avatar_url))
            texts = [msg.content] + ([msg.forwarded.content] if msg.forwarded else [])
            for text in texts:
                for emoji_id, animated in custom_emoji(text):
                    if emoji_id not in self._emoji_tried:
                        self._emoji_tried.add(emoji_id)
                        jobs.append(self._emoji(emoji_id, animated))
        files: dict[tuple[int, int], SavedFile | str] = {}
        for msg in messages:
            for index, attachment in enumerate(_attachments(msg)):
                jobs.append(self._attachment(msg.id, index, attachment, files))
        await asyncio.gather(*jobs)
        return [self._filled(msg, files) for msg in messages]

    def _filled(
        self, msg: TranscriptMessage, files: dict[tuple[int, int], SavedFile | str]
    ) -> TranscriptMessage:
        counter = iter(range(1 << 30))

        def fill(attachments: tuple[TranscriptAttachment, ...]) -> tuple[TranscriptAttachment, ...]:
            out = []
            for attachment in attachments:
                result = files.get((msg.id, next(counter)))
                if isinstance(result, SavedFile):
                    out.append(replace(attachment, saved=result))
                else:
                    out.append(replace(attachment, not_saved=result))
            return tuple(out)

        author = self._with_avatar(msg.author)
        attachments = fill(msg.attachments)
        forwarded = msg.forwarded
        if forwarded is not None:
            forwarded = replace(forwarded, attachments=fill(forwarded.attachments))
        return replace(msg, author=author, attachments=attachments, forwarded=forwarded)

    def _with_avatar(self, author: TranscriptAuthor) -> TranscriptAuthor:
        saved = self._avatars.get(author.id)
        return replace(author, avatar=saved) if saved is not None else author

    async def _avatar(self, user_id: int, url: str) -> None:
        try:
            data, kind = await self._image(url)
        except _Skip as why:
            _LOG.debug("avatar of %d not saved: %s", user_id, why)
            return
        path = f"{ASSETS_DIR}/avatars/{user_id}.{kind}"
        await asyncio.to_thread(self._sink.write_asset, path, data)
        self._avatars[user_id] = SavedFile(path, image=True)

    async def _emoji(self, emoji_id: int, animated: bool) -> None:
        try:
            data, kind = await self._image(self._source.emoji_url(emoji_id, animated))
        except _Skip as why:
            _LOG.debug("emoji %d not saved: %s", emoji_id, why)
            return
        path = f"{ASSETS_DIR}/emoji/{emoji_id}.{kind}"
        await asyncio.to_thread(self._sink.write_asset, path, data)
        self.emoji[emoji_id] = SavedFile(path, image=True)

    async def _image(self, url: str) -> tuple[bytes, str]:
        data = await self._download(url, min(ICON_MAX_BYTES, self._limits.file_max_bytes), None)
        kind = image_type(data)
        if kind is None:
            raise _Skip("not an image")
        return data, kind

    async def _attachment(
        self,
        message_id: int,
        index: int,
        attachment: TranscriptAttachment,
        files: dict[tuple[int, int], SavedFile | str],
    ) -> None:
        key = (message_id, index)
        try:
            data = await self._download(
                attachment.url, self._limits.file_max_bytes, max(0, attachment.size)
            )
        except _Skip as why:
            files[key] = str(why)
            self._not_saved[str(why)] += 1
            return
        name = safe_filename(attachment.filename)
        kind = image_type(data)
        if kind is not None:
            name = _with_extension(name, kind)
        elif _runs_in_a_browser(name, data):
            name = f"{name}.txt"
        path = f"{ASSETS_DIR}/files/{message_id}-{index}-{name}"
        await asyncio.to_thread(self._sink.write_asset, path, data)
        files[key] = SavedFile(path, image=kind is not None)

    async def _download(self, url: str, file_max: int, declared: int | None) -> bytes:
        """The bytes, within the limits; `_Skip` with the reason otherwise."""
        limits = self._limits
        if declared is not None and declared > limits.file_max_bytes:
            raise _Skip(f"over the {human_size(limits.file_max_bytes)} per-file limit")
        async with self._slots:
            assert self._deadline is not None
            left = self._deadline - self._clock()
            if left <= 0:
                raise _Skip(f"the {limits.total_timeout_s:.0f} s to save files ran out")
            room = limits.total_max_bytes - self._used
            if declared is not None and declared > room:
                raise _Skip(f"the {human_size(limits.total_max_bytes)} per-transcript limit")
            reserved = min(file_max, room)
            if reserved <= 0:
                raise _Skip(f"the {human_size(limits.total_max_bytes)} per-transcript limit")
            self._used += reserved
            data: bytes | None = None
            try:
                async with asyncio.timeout(min(limits.file_timeout_s, left)):
                    data = await self._source.fetch_file(url, reserved)
            except TimeoutError:
                raise _Skip("the download took too long") from None
            except DiscordFailure as exc:
                _LOG.info("a transcript file was not saved: %s", exc)
                raise _Skip("the download failed") from None
            finally:
                self._used -= reserved - (len(data) if data is not None else 0)
        if data is None:
            if reserved < file_max:
                raise _Skip(f"the {human_size(limits.total_max_bytes)} per-transcript limit")
            raise _Skip(f"over the {human_size(file_max)} per-file limit")
        self.saved_files += 1
        self.saved_bytes += len(data)
        return data


def _attachments(msg: TranscriptMessage) -> tuple[TranscriptAttachment, ...]:
    forwarded: TranscriptForward | None = msg.forwarded
    return msg.attachments + (forwarded.attachments if forwarded is not None else ())
