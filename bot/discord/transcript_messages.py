"""Discord's messages as the transcript sees them, and the download of a file they show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import aiohttp
import hikari
from hikari.messages import MessageReferenceType

from bot.core.errors import DiscordFailure
from bot.core.transcripts import (
    TranscriptAttachment,
    TranscriptAuthor,
    TranscriptEmbed,
    TranscriptEmbedField,
    TranscriptForward,
    TranscriptMessage,
    TranscriptReply,
)

AuthorOf = Callable[[hikari.User], TranscriptAuthor]


async def download(url: str, max_bytes: int) -> bytes | None:
    """The file at `url`, or None as soon as it proves larger than `max_bytes`.

    Plain HTTP (hikari's own download helper leaks its session when a connection fails); the
    caller bounds the time.
    """
    where = urlsplit(url)
    if where.scheme not in ("http", "https"):
        raise DiscordFailure("a file's link is not an http(s) URL")
    shown = f"{where.scheme}://{where.netloc}{where.path}"  # without the link's signature
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            if response.status != 200:
                raise DiscordFailure(f"{shown} answered {response.status}")
            if (response.content_length or 0) > max_bytes:
                return None
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise DiscordFailure(f"could not download {shown}: {exc}") from exc


def _embeds(embeds: Sequence[hikari.Embed]) -> tuple[TranscriptEmbed, ...]:
    return tuple(
        TranscriptEmbed(
            title=e.title,
            description=e.description,
            colour=int(e.colour) if e.colour is not None else None,
            fields=tuple(TranscriptEmbedField(f.name, f.value) for f in e.fields),
        )
        for e in embeds
    )


def _attachments(attachments: Sequence[hikari.Attachment]) -> tuple[TranscriptAttachment, ...]:
    return tuple(
        TranscriptAttachment(filename=a.filename, url=a.url, size=a.size) for a in attachments
    )


def _reply(message: hikari.Message, author_of: AuthorOf) -> TranscriptReply | None:
    reference = message.message_reference
    if reference is None or reference.type != MessageReferenceType.DEFAULT:
        return None
    if message.type != hikari.MessageType.REPLY:
        return None
    replied = message.referenced_message
    if replied is None or isinstance(replied.author, hikari.UndefinedType):
        return TranscriptReply(message_id=None, author=None, content="")
    content = replied.content if isinstance(replied.content, str) else ""
    return TranscriptReply(
        message_id=int(replied.id), author=author_of(replied.author), content=content
    )


def _forward(message: hikari.Message) -> TranscriptForward | None:
    reference = message.message_reference
    if reference is None or reference.type != MessageReferenceType.FORWARD:
        return None
    if not message.message_snapshots:
        return None
    snapshot = message.message_snapshots[0]
    timestamp = snapshot.timestamp
    return TranscriptForward(
        content=snapshot.content or "",
        created_at=None if isinstance(timestamp, hikari.UndefinedType) else timestamp.timestamp(),
        embeds=_embeds(snapshot.embeds),
        attachments=_attachments(snapshot.attachments),
    )


def transcript_message(message: hikari.Message, author_of: AuthorOf) -> TranscriptMessage:
    mentions = message.user_mentions
    mentioned = (
        None if isinstance(mentions, hikari.UndefinedType) else next(iter(mentions.values()), None)
    )
    return TranscriptMessage(
        id=int(message.id),
        author=author_of(message.author),
        content=message.content or "",
        created_at=message.timestamp.timestamp(),
        edited_at=message.edited_timestamp.timestamp() if message.edited_timestamp else None,
        embeds=_embeds(message.embeds),
        attachments=_attachments(message.attachments),
        type=int(message.type),
        target=author_of(mentioned).name if mentioned is not None else None,
        reply=_reply(message, author_of),
        forwarded=_forward(message),
        stickers=tuple(s.name for s in message.stickers),
    )
