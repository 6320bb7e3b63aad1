"""Ticket transcripts: HTML that reads like the Discord conversation, one message at a time.

The renderer is pure: plain dataclasses in, strings out; no clock, no I/O, no hikari, so the same
input always gives the same bytes. `TranscriptRenderer` renders message by message (a ticket of
ten thousand messages is never held whole); `render_transcript` is the same for a list.

Self-contained: inline CSS, and nothing outside the transcript's own folder. Attachments, avatars
and custom emoji that were saved beside the transcript (`bot.core.transcript_assets`) are shown
from there by relative paths under `assets/`; what was not saved stays a plain link, which is not
fetched until somebody clicks it, and only http(s) URLs ever become links. A small local script
(`assets/time.js`) shows times in the reader's time zone; without it they read in UTC. A
Content-Security-Policy allows images and scripts from the page's own origin only, and nothing
else, as a second line behind the escaping.

Escaping: every piece of user text is escaped with `html.escape` first. The markdown pass then runs
on the escaped text, in which `<`, `>`, `"`, `'` and `&` only occur inside entities, and it emits
that text verbatim, adding only fixed tags. The attributes it writes come from digits, from fixed
strings, from local paths checked against a fixed pattern, or from URLs that it unescapes, checks
to be http(s) and escapes again. Its delimiters (`*`, `_`, `~`, `|`, `#`, `-`, backticks) never
occur inside an entity, so no span can cut one in half.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from bot.core.numbers import ticket_tag

# --------------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True, slots=True)
class SavedFile:
    """A file saved beside the transcript: its path relative to the HTML, under `assets/`."""

    path: str
    image: bool  # a PNG, JPEG, GIF or WebP, checked from its bytes: shown inline


@dataclass(frozen=True, slots=True)
class TranscriptAuthor:
    id: int
    name: str
    avatar_url: str | None
    bot: bool = False
    avatar: SavedFile | None = None


@dataclass(frozen=True, slots=True)
class TranscriptAttachment:
    filename: str
    url: str
    size: int
    saved: SavedFile | None = None
    not_saved: str | None = None  # why it was not saved, when it was meant to be


@dataclass(frozen=True, slots=True)
class TranscriptEmbedField:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class TranscriptEmbed:
    title: str | None
    description: str | None
    colour: int | None
    fields: tuple[TranscriptEmbedField, ...] = ()


@dataclass(frozen=True, slots=True)
class TranscriptReply:
    """The message a reply answers; `author` None when it was deleted."""

    message_id: int | None
    author: TranscriptAuthor | None
    content: str


@dataclass(frozen=True, slots=True)
class TranscriptForward:
    """A forwarded message's snapshot."""

    content: str
    created_at: float | None
    embeds: tuple[TranscriptEmbed, ...] = ()
    attachments: tuple[TranscriptAttachment, ...] = ()


@dataclass(frozen=True, slots=True)
class TranscriptMessage:
    id: int
    author: TranscriptAuthor
    content: str
    created_at: float  # unix seconds
    edited_at: float | None
    embeds: tuple[TranscriptEmbed, ...] = ()
    attachments: tuple[TranscriptAttachment, ...] = ()
    type: int = 0  # Discord's message type: 6 a pin, 7 a join, ... (see SYSTEM_MESSAGES)
    target: str | None = None  # who a system message is about (added to a thread, ...)
    reply: TranscriptReply | None = None
    forwarded: TranscriptForward | None = None
    stickers: tuple[str, ...] = ()  # names


@dataclass(frozen=True, slots=True)
class TranscriptHeader:
    server_name: str
    ticket_name: str  # the channel's name
    ticket_number: int
    opener: str  # display name
    opener_id: int
    source: Literal["button", "api"]
    button_label: str | None
    opened_at: float
    closed_at: float | None
    closed_by: str | None
    close_reason: str | None
    content_visible: bool  # False when the bot lacked the Message Content intent
    made_at: float | None = None  # when the transcript was made (for a ticket still open)
    assets_note: str | None = None  # what could not be saved beside the transcript, if anything


@dataclass(frozen=True, slots=True)
class Names:
    """Names for resolving `<@id>`, `<@&id>` and `<#id>` mentions."""

    users: Mapping[int, str] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[int, str] = field(default_factory=dict)


CONTENT_HIDDEN_WARNING = (
    "Members' messages were not visible to the bot (Message Content intent disabled): their "
    "text, embeds and attachments are missing; the bot's own messages are complete."
)

# Consecutive messages by one author closer than this are shown as one group, as Discord does.
GROUP_SECONDS = 7 * 60

# Nesting deeper than this is shown as the (escaped) text it is; bounds the recursion.
_MAX_DEPTH = 12
_MAX_LIST_DEPTH = 4

# Messages Discord shows as a line of its own rather than a message ({author} and {target} are
# names, {content} the message's text). Other types are shown as ordinary messages.
SYSTEM_MESSAGES: Mapping[int, str] = {
    1: "{author} added {target} to the thread.",
    2: "{author} removed {target} from the thread.",
    4: "{author} changed the channel name: {content}",
    6: "{author} pinned a message to this channel.",
    7: "{author} joined the server.",
    18: "{author} started a thread: {content}",
}
_SYSTEM_ICONS: Mapping[int, str] = {1: "→", 2: "←", 4: "✎", 6: "📌", 7: "→", 18: "#"}
# Replies, slash-command and context-menu answers: ordinary messages for the "first reply".
_CHAT_TYPES = frozenset({0, 19, 20, 23})

# Where saved files live, relative to the transcript's HTML; the renderer shows nothing else.
ASSETS_DIR = "assets"
TIME_SCRIPT = f"{ASSETS_DIR}/time.js"
_LOCAL_PATH = re.compile(r"assets/(?:files|avatars|emoji)/[A-Za-z0-9][A-Za-z0-9._-]{0,150}")

# --------------------------------------------------------------------------------------------------
# Text helpers

# C0/C1 controls other than tab and newline, and lone surrogates (which cannot be encoded as
# UTF-8): replaced, so the output is valid HTML and always writable.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE_CHARS.sub("\ufffd", text)


def _esc(text: str) -> str:
    """User text → HTML text or attribute value (quotes escaped too)."""
    return html.escape(_clean(text), quote=True)


def safe_url(url: str) -> str | None:
    """`url` if it is an absolute http(s) URL that is fine to link to, else None."""
    url = url.strip()
    if not url or _UNSAFE_CHARS.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url


def human_size(size: int) -> str:
    """1536 → "1.5 KB" (1024-based, as Discord shows sizes)."""
    size = max(0, size)
    if size < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


# --------------------------------------------------------------------------------------------------
# Time (always UTC; month and day names are ours, so the output does not depend on the locale)

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _utc(ts: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(ts, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(dt: datetime) -> str:
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z"
    )


def _date(dt: datetime) -> str:
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"


def _hm(dt: datetime) -> str:
    return f"{dt.hour:02d}:{dt.minute:02d}"


def _hms(dt: datetime) -> str:
    return f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"


def _long_date(dt: datetime) -> str:
    return f"{dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


def _full(dt: datetime) -> str:
    """Tuesday, 14 November 2023 22:13:20 UTC"""
    return f"{_WEEKDAYS[dt.weekday()]}, {_long_date(dt)} {_hms(dt)} UTC"


def format_utc(ts: float) -> str:
    """Unix seconds → "2023-11-14 22:13:20 UTC" (the raw number if it is not a valid time)."""
    dt = _utc(ts)
    return f"{_date(dt)} {_hms(dt)} UTC" if dt else str(ts)


def _time_tag(ts: float, style: str, css: str = "") -> str:
    """A `<time>` in UTC; `data-f` tells the local script how to show it in the reader's zone."""
    dt = _utc(ts)
    if dt is None:
        return _esc(str(ts))
    cls = f' class="{css}"' if css else ""
    return (
        f'<time{cls} datetime="{_iso(dt)}" title="{_full(dt)}" data-f="{style}">'
        f"{_TIME_STYLES[style](dt)}</time>"
    )


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


# Discord's `<t:unix:style>` styles, then ours: "s" (date and seconds, the header), "m" (date and
# minutes, a message), "g" (minutes, the gutter of a grouped message), "day" (a day divider). R
# (relative) is shown in full in the file; the local script makes it relative to the reader's now.
_TIME_STYLES: Mapping[str, Callable[[datetime], str]] = {
    "t": lambda dt: f"{_hm(dt)} UTC",
    "T": lambda dt: f"{_hms(dt)} UTC",
    "d": _date,
    "D": _long_date,
    "f": lambda dt: f"{_long_date(dt)} {_hm(dt)} UTC",
    "F": lambda dt: f"{_WEEKDAYS[dt.weekday()]}, {_long_date(dt)} {_hm(dt)} UTC",
    "R": lambda dt: f"{_long_date(dt)} {_hm(dt)} UTC",
    "s": lambda dt: f"{_date(dt)} {_hms(dt)} UTC",
    "m": lambda dt: f"{_date(dt)} {_hm(dt)} UTC",
    "g": _hm,
    "day": _long_date,
}
_TIMESTAMP_STYLES = frozenset("tTdDfFR")

# --------------------------------------------------------------------------------------------------
# Markdown, on escaped text (see the module docstring). Patterns follow Discord's own rules.

# A run of characters that cannot start any rule: emitted as is.
_PLAIN = re.compile(r"(?:[^*_~|`\\&@\[\nh]|h(?!ttps?://))+")

_CODE_BLOCK = re.compile(r"```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][\s\S]*?)\n*```\n?", re.IGNORECASE)
_INLINE_CODE = re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)")
_ESCAPED_CHAR = re.compile(r"\\([^0-9A-Za-z\s])")
_QUOTE_REST = re.compile(r" *&gt;&gt;&gt;[ \n]([\s\S]*)")
_QUOTE_LINES = re.compile(r" *&gt;(?!&gt;&gt;) +[^\n]*(?:\n *&gt;(?!&gt;&gt;) +[^\n]*)*\n?")
_QUOTE_PREFIX = re.compile(r"^ *&gt; ?", re.MULTILINE)
_HEADING = re.compile(r"(#{1,3}) +(\S[^\n]*)\n?")
_SUBTEXT = re.compile(r"-# +(\S[^\n]*)\n?")
_LIST_ITEM = re.compile(r"( *)(?:[-*]|(\d{1,9})\.) +(\S[^\n]*)")
_AUTOLINK = re.compile(r"&lt;(https?://[^\s]+?)&gt;")
_MASKED_LINK = re.compile(r"\[([^\[\]\n]+)\]\(\s*(?:&lt;)?(https?://[^\s()]+?)(?:&gt;)?\s*\)")
_URL = re.compile(r"https?://\S+")
_USER_MENTION = re.compile(r"&lt;@!?(\d{1,20})&gt;")
_ROLE_MENTION = re.compile(r"&lt;@&amp;(\d{1,20})&gt;")
_CHANNEL_MENTION = re.compile(r"&lt;#(\d{1,20})&gt;")
_COMMAND_MENTION = re.compile(r"&lt;/([\w\- ]{1,100}):(\d{1,20})&gt;")
_CUSTOM_EMOJI = re.compile(r"&lt;a?:([A-Za-z0-9_]{1,32}):(\d{1,20})&gt;")
_RAW_CUSTOM_EMOJI = re.compile(r"<(a?):[A-Za-z0-9_]{1,32}:(\d{1,20})>")  # on raw text
_TIMESTAMP = re.compile(r"&lt;t:(-?\d{1,14})(?::([tTdDfFR]))?&gt;")
_EVERYONE = re.compile(r"(?<!\w)@(everyone|here)\b")
_BOLD = re.compile(r"\*\*([\s\S]+?)\*\*(?!\*)")
_UNDERLINE = re.compile(r"__((?:\\[\s\S]|[^\\])+?)__(?!_)")
_ITALIC = re.compile(
    r"\b_((?:__|\\[\s\S]|[^\\_])+?)_\b"
    r"|\*(?=\S)((?:\*\*|\\[\s\S]|\s++(?:\\[\s\S]|[^\s*\\]|\*\*)|[^\s*\\])+?)\*(?!\*)"
)
_STRIKE = re.compile(r"~~([\s\S]+?)~~(?!_)")
_SPOILER = re.compile(r"\|\|([\s\S]+?)\|\|")

# Characters a bare URL does not end with (unless balanced, for the closing parenthesis).
_URL_TRAILING = ".,:;\"'!?)]"

_Result = tuple[str, int] | None  # the HTML and where the match ends; None: the rule declines
_Handler = Callable[[re.Match[str], int, bool], _Result]  # (match, depth, links allowed)


class _Markdown:
    """Discord's basic markdown → HTML, on text that is already escaped."""

    def __init__(self, names: Names, emoji: Mapping[int, SavedFile]) -> None:
        self._names = names
        self._saved_emoji = emoji
        self._rules: tuple[tuple[re.Pattern[str], _Handler], ...] = (
            (_CODE_BLOCK, self._code_block),
            (_INLINE_CODE, self._inline_code),
            (_ESCAPED_CHAR, lambda m, _d, _l: (m.group(1), m.end())),
            (_AUTOLINK, self._autolink),
            (_MASKED_LINK, self._masked_link),
            (_URL, self._bare_url),
            (_ROLE_MENTION, self._role),
            (_USER_MENTION, self._user),
            (_CHANNEL_MENTION, self._channel),
            (_COMMAND_MENTION, self._command),
            (_CUSTOM_EMOJI, self._emoji),
            (_TIMESTAMP, self._timestamp),
            (_EVERYONE, self._everyone),
            (_BOLD, self._span("strong")),
            (_UNDERLINE, self._span("u")),
            (_ITALIC, self._italic),
            (_STRIKE, self._span("s")),
            (_SPOILER, self._spoiler),
        )

    def render(self, text: str, *, blocks: bool = True, links: bool = True) -> str:
        """Raw user text → HTML. `blocks`: quotes, headings, lists; `links`: URLs become links."""
        return self._parse(_esc(text), 0, top=blocks, quotes=blocks, links=links)

    def _parse(self, s: str, depth: int, *, top: bool, links: bool, quotes: bool = False) -> str:
        if depth > _MAX_DEPTH:
            return s
        out: list[str] = []
        pos, end = 0, len(s)
        while pos < end:
            if top and (pos == 0 or s[pos - 1] == "\n"):
                block = self._block(s, pos, depth, links, quotes)
                if block is not None:
                    out.append(block[0])
                    pos = block[1]
                    continue
            plain = _PLAIN.match(s, pos)
            if plain is not None:
                out.append(plain.group())
                pos = plain.end()
                continue
            for pattern, handler in self._rules:
                m = pattern.match(s, pos)
                if m is not None and (result := handler(m, depth, links)) is not None:
                    out.append(result[0])
                    pos = result[1]
                    break
            else:
                out.append(s[pos])
                pos += 1
        return "".join(out)

    def _inner(self, s: str, depth: int, links: bool) -> str:
        return self._parse(s, depth + 1, top=False, links=links)

    # Blocks (at the start of a line)

    def _block(self, s: str, pos: int, depth: int, links: bool, quotes: bool) -> _Result:
        if quotes and (quoted := self._quote(s, pos, depth, links)) is not None:
            return quoted
        if (m := _HEADING.match(s, pos)) is not None:
            level = len(m.group(1))
            tag = f"h{level + 2}"  # the page's h1 is the ticket, h2 a message's author
            return f'<{tag} class="md">{self._inner(m.group(2), depth, links)}</{tag}>', m.end()
        if (m := _SUBTEXT.match(s, pos)) is not None:
            return f'<small class="subtext">{self._inner(m.group(1), depth, links)}</small>', (
                m.end()
            )
        return self._list(s, pos, depth, links)

    def _quote(self, s: str, pos: int, depth: int, links: bool) -> _Result:
        m = _QUOTE_REST.match(s, pos)
        if m is not None:
            inner = m.group(1)
        else:
            m = _QUOTE_LINES.match(s, pos)
            if m is None:
                return None
            inner = _QUOTE_PREFIX.sub("", m.group().removesuffix("\n"))
        body = self._parse(inner, depth + 1, top=True, links=links)  # no quote in a quote
        return f"<blockquote>{body}</blockquote>", m.end()

    def _list(self, s: str, pos: int, depth: int, links: bool) -> _Result:
        """Consecutive `- item`, `* item` or `1. item` lines; deeper indentation nests."""
        out: list[str] = []
        levels: list[tuple[int, str]] = []  # (indentation, "ul" or "ol") of each open list
        end = pos
        while (m := _LIST_ITEM.match(s, end)) is not None:
            indent, number = len(m.group(1)), m.group(2)
            if levels and indent > levels[-1][0] and len(levels) < _MAX_LIST_DEPTH:
                nested = True  # inside the open item
            else:
                nested = False
                while len(levels) > 1 and indent < levels[-1][0]:
                    out.append(f"</li></{levels.pop()[1]}>")
                if levels:
                    out.append("</li>")
            if nested or not levels:
                tag = "ol" if number is not None else "ul"
                start = f' start="{int(number)}"' if number is not None and int(number) != 1 else ""
                out.append(f"<{tag}{start}>")
                levels.append((indent, tag))
            out.append(f"<li>{self._inner(m.group(3), depth, links)}")
            end = m.end()
            if s.startswith("\n", end):
                end += 1
                if _LIST_ITEM.match(s, end) is None:
                    break
        if not levels:
            return None
        out.extend(f"</li></{tag}>" for _, tag in reversed(levels))
        return "".join(out), end

    def _code_block(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        lang = m.group(1)
        attr = f' data-lang="{lang}"' if lang else ""
        return f'<pre class="codeblock"><code{attr}>{m.group(2)}</code></pre>', m.end()

    # Inline

    def _inline_code(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        code = m.group(2)
        if len(code) > 2 and code.startswith(" ") and code.endswith(" ") and code.strip():
            code = code[1:-1]
        return f"<code>{code}</code>", m.end()

    def _span(self, tag: str) -> _Handler:
        def handler(m: re.Match[str], depth: int, links: bool) -> _Result:
            return f"<{tag}>{self._inner(m.group(1), depth, links)}</{tag}>", m.end()

        return handler

    def _italic(self, m: re.Match[str], depth: int, links: bool) -> _Result:
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        return f"<em>{self._inner(inner, depth, links)}</em>", m.end()

    def _spoiler(self, m: re.Match[str], depth: int, links: bool) -> _Result:
        inner = self._inner(m.group(1), depth, links)
        return f'<span class="spoiler" tabindex="0" title="Spoiler">{inner}</span>', m.end()

    # Links: the matched text is unescaped, checked, and escaped again for the attribute.

    @staticmethod
    def _link(url: str, text: str) -> str:
        href = _esc(url)
        return (
            f'<a href="{href}" title="{href}" rel="noopener noreferrer nofollow" '
            f'target="_blank">{text}</a>'
        )

    def _autolink(self, m: re.Match[str], _depth: int, links: bool) -> _Result:
        url = safe_url(html.unescape(m.group(1)))
        if not links or url is None:
            return None
        return self._link(url, _esc(url)), m.end()

    def _masked_link(self, m: re.Match[str], depth: int, links: bool) -> _Result:
        url = safe_url(html.unescape(m.group(2)))
        if not links or url is None:
            return None
        return self._link(url, self._inner(m.group(1), depth, links=False)), m.end()

    def _bare_url(self, m: re.Match[str], _depth: int, links: bool) -> _Result:
        if not links:
            return None
        raw = html.unescape(m.group())
        for stop in "<>":
            raw = raw.split(stop, 1)[0]
        while raw and raw[-1] in _URL_TRAILING:
            if raw[-1] == ")" and raw.count("(") >= raw.count(")"):
                break
            raw = raw[:-1]
        url = safe_url(raw)
        if url is None or url.rstrip("/").endswith("://"):
            return None
        text = _esc(url)
        # Escaping is per character, so the escaped URL is a prefix of the escaped match.
        return self._link(url, text), m.start() + len(text)

    # Mentions, emoji, timestamps

    @staticmethod
    def _mention(text: str, title: str) -> str:
        return f'<span class="mention" title="{title}">{text}</span>'

    def _user(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        user_id = int(m.group(1))
        name = self._names.users.get(user_id)
        text = f"@{_esc(name)}" if name is not None else "@unknown-user"
        return self._mention(text, f"User {user_id}"), m.end()

    def _role(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        role_id = int(m.group(1))
        name = self._names.roles.get(role_id)
        text = f"@{_esc(name)}" if name is not None else "@unknown-role"
        return self._mention(text, f"Role {role_id}"), m.end()

    def _channel(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        channel_id = int(m.group(1))
        name = self._names.channels.get(channel_id)
        text = f"#{_esc(name)}" if name is not None else "#unknown-channel"
        return self._mention(text, f"Channel {channel_id}"), m.end()

    def _command(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        return self._mention(f"/{m.group(1)}", f"Command {m.group(2)}"), m.end()

    def _everyone(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        title = "Everyone" if m.group(1) == "everyone" else "Everyone online"
        return self._mention(m.group(), title), m.end()

    def _emoji(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        name = m.group(1)
        saved = self._saved_emoji.get(int(m.group(2)))
        if saved is not None and (src := _local(saved)) is not None:
            return f'<img class="emoji" src="{src}" alt=":{name}:" title=":{name}:">', m.end()
        return f'<span class="emoji" title="Custom emoji">:{name}:</span>', m.end()

    def _timestamp(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        if _utc(int(m.group(1))) is None:
            return None
        return _time_tag(int(m.group(1)), m.group(2) or "f", "timestamp"), m.end()


def custom_emoji(text: str) -> list[tuple[int, bool]]:
    """The custom emoji in raw message text, as (id, animated), in order, without repeats."""
    found: dict[int, bool] = {}
    for m in _RAW_CUSTOM_EMOJI.finditer(text):
        found.setdefault(int(m.group(2)), bool(m.group(1)))
    return list(found.items())


def _local(saved: SavedFile) -> str | None:
    """The saved file's relative path, if it is one the renderer may point at."""
    return saved.path if _LOCAL_PATH.fullmatch(saved.path) and ".." not in saved.path else None


# --------------------------------------------------------------------------------------------------
# Page

_PALETTE = (
    "#5865f2",
    "#3ba55c",
    "#faa61a",
    "#ed4245",
    "#eb459f",
    "#1abc9c",
    "#e67e22",
    "#9b59b6",
    "#3498db",
    "#747f8d",
)


def avatar_colour(user_id: int) -> str:
    """A colour from the user id (the same user always gets the same one)."""
    mixed = ((user_id ^ (user_id >> 22)) * 2654435761) & 0xFFFFFFFF
    return _PALETTE[(mixed >> 16) % len(_PALETTE)]


def _initial(name: str) -> str:
    stripped = _clean(name).strip()
    return _esc(stripped[0].upper()) if stripped else "?"


def _colour(value: int | None) -> str:
    if value is None:
        return "#1e1f22"
    return f"#{max(0, min(value, 0xFFFFFF)):06x}"


_CSS = """
*{box-sizing:border-box}
html{background:#313338}
body{margin:0;color:#dbdee1;background:#313338;font:16px/1.375 "gg sans","Noto Sans",
"Segoe UI","Helvetica Neue",Helvetica,Arial,sans-serif;-webkit-text-size-adjust:100%}
a{color:#00a8fc;text-decoration:none;word-break:break-all}
a:hover{text-decoration:underline}
.ticket{background:#2b2d31;border-bottom:1px solid #1e1f22;padding:20px 24px}
.ticket .server{color:#b5bac1;font-size:14px;font-weight:600;text-transform:uppercase;
letter-spacing:.02em}
.ticket h1{margin:4px 0 12px;color:#f2f3f5;font-size:24px;line-height:1.25;word-break:break-word}
.ticket h1 .hash{color:#80848e;margin-right:4px}
.ticket h1 .number{color:#b5bac1;font-size:16px;font-weight:500;margin-left:8px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;font-size:14px}
.facts dt{color:#949ba4}
.facts dd{margin:0;color:#dbdee1;white-space:pre-wrap;word-break:break-word}
.muted,.id{color:#949ba4}
.warning{margin-top:14px;padding:10px 12px;border-radius:4px;background:rgba(240,178,50,.12);
border:1px solid #f0b232;color:#f0b232;font-size:14px;font-weight:600}
.messages{padding:8px 0 24px}
.divider{display:flex;align-items:center;margin:20px 16px 8px;color:#949ba4;font-size:12px;
font-weight:600}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid #3f4147}
.divider span{padding:0 8px}
.msg{position:relative;display:flex;gap:16px;padding:2px 48px 2px 16px;min-height:22px}
.msg:hover{background:#2e3035}
.msg.start{margin-top:17px;padding-top:2px}
main .msg{content-visibility:auto;contain-intrinsic-size:auto 44px}
.avatar{flex:0 0 40px;width:40px;height:40px;border-radius:50%;color:#fff;display:flex;
align-items:center;justify-content:center;font-weight:600;font-size:18px;user-select:none}
.gutter{flex:0 0 40px;text-align:right;color:transparent;font-size:11px;line-height:22px}
.msg:hover .gutter{color:#949ba4}
.body{flex:1;min-width:0}
.meta{margin:0;font-size:16px;font-weight:400;line-height:22px}
.author{color:#f2f3f5;font-weight:500;margin-right:6px;word-break:break-word}
.badge{display:inline-block;background:#5865f2;color:#fff;font-size:10px;font-weight:600;
border-radius:3px;padding:0 4px;line-height:15px;vertical-align:2px;margin-right:6px}
.meta time{color:#949ba4;font-size:12px}
.content{white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}
.content.note{color:#949ba4;font-style:italic;font-size:14px}
.edited{color:#949ba4;font-size:10px;margin-left:4px;white-space:nowrap}
code{font-family:Consolas,"Andale Mono WT","Andale Mono","Liberation Mono","DejaVu Sans Mono",
monospace;font-size:.85em;background:#2b2d31;border:1px solid #1e1f22;border-radius:4px;
padding:0 .2em}
pre.codeblock{margin:6px 0 0;max-width:90%;white-space:pre-wrap}
pre.codeblock code{display:block;padding:.5em;line-height:1.125rem;font-size:.875rem}
blockquote{margin:0;padding:0 8px 0 12px;border-left:4px solid #4e5058;border-radius:4px 0 0 4px}
.mention{background:rgba(88,101,242,.3);color:#c9cdfb;border-radius:3px;padding:0 2px;
font-weight:500}
.emoji{color:#b5bac1}
time.timestamp{background:rgba(78,80,88,.48);border-radius:3px;padding:0 2px}
.spoiler{background:#1e1f22;color:transparent;border-radius:3px;cursor:pointer}
.spoiler *{visibility:hidden}
.spoiler:hover,.spoiler:focus{background:rgba(78,80,88,.48);color:inherit;outline:none}
.spoiler:hover *,.spoiler:focus *{visibility:visible}
.embed{margin-top:6px;max-width:520px;background:#2b2d31;border-left:4px solid #1e1f22;
border-radius:4px;padding:8px 16px 16px 12px;font-size:14px}
.embed-title{color:#f2f3f5;font-weight:600;font-size:16px;margin-top:8px}
.embed-description{margin-top:8px;white-space:pre-wrap;overflow-wrap:anywhere}
.embed-fields{display:grid;gap:8px;margin-top:8px}
.embed-field-name{color:#f2f3f5;font-weight:600;margin-bottom:2px}
.embed-field-value{white-space:pre-wrap;overflow-wrap:anywhere}
.attachment{display:flex;align-items:center;gap:10px;margin-top:6px;max-width:432px;
padding:10px;background:#2b2d31;border:1px solid #1e1f22;border-radius:8px}
.attachment .icon{flex:0 0 30px;height:38px;display:flex;align-items:flex-end;
justify-content:center;padding-bottom:5px;border-radius:3px 10px 3px 3px;background:#4e5058;
color:#f2f3f5;font-size:9px;font-weight:700;letter-spacing:.03em}
.attachment .filename{word-break:break-all}
.attachment .size{color:#949ba4;font-size:12px}
.attachment .note{color:#f0b232}
.image{display:block;margin-top:6px;max-width:min(400px,100%)}
.image img{display:block;max-width:100%;max-height:350px;border-radius:8px;background:#2b2d31}
img.avatar{object-fit:cover;background:#2b2d31}
img.emoji{width:1.375em;height:1.375em;vertical-align:-.3em;object-fit:contain}
.content h3,.content h4,.content h5{margin:8px 0 0;color:#f2f3f5;line-height:1.375;
white-space:pre-wrap}
.content h3{font-size:1.5em}.content h4{font-size:1.25em}.content h5{font-size:1em}
.subtext{display:block;color:#949ba4;font-size:.8125em}
.content ul,.content ol{margin:4px 0 0;padding-left:1.5em;white-space:normal}
.content li{white-space:pre-wrap}
.reply{display:flex;align-items:center;gap:4px;margin:0 0 2px;color:#b5bac1;font-size:14px;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.reply::before{content:"";flex:0 0 28px;height:10px;margin-left:-36px;margin-right:8px;
border-left:2px solid #4e5058;border-top:2px solid #4e5058;border-radius:6px 0 0 0;
align-self:flex-end}
.reply .author{font-size:14px;margin-right:2px}
.reply-text{overflow:hidden;text-overflow:ellipsis}
.forward{margin-top:4px;padding-left:12px;border-left:4px solid #4e5058}
.forward-label{color:#949ba4;font-size:12px;font-style:italic}
.sticker{margin-top:6px;color:#b5bac1;font-style:italic}
.msg.system{color:#949ba4;margin-top:8px}
.msg.system .gutter{color:#949ba4;font-size:16px;text-align:center}
.msg.system .author{color:#f2f3f5}
.msg.system time{font-size:12px;margin-left:4px}
.footer{color:#949ba4;font-size:12px;text-align:center;padding:16px;border-top:1px solid #3f4147}
@media print{.spoiler{color:inherit;background:none}.spoiler *{visibility:visible}}
""".strip()

# Images and the time script from the transcript's own folder; nothing else, from anywhere.
CSP = (
    "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def _header(header: TranscriptHeader, stats: _Stats) -> str:
    if header.source == "api":
        source = "API"
    elif header.button_label is not None:
        source = f"Button “{_esc(header.button_label)}”"
    else:
        source = "Button"
    facts = [
        ("Opened by", f'{_esc(header.opener)} <span class="id">({header.opener_id})</span>'),
        ("Source", source),
        ("Opened", _time_tag(header.opened_at, "s")),
    ]
    if header.closed_at is None:
        still = '<span class="muted">still open</span>'
        if header.made_at is not None and (span := header.made_at - header.opened_at) >= 0:
            still += f' <span class="muted">(open for {_duration(span)} so far)</span>'
        facts.append(("Closed", still))
    else:
        closed = _time_tag(header.closed_at, "s")
        if (span := header.closed_at - header.opened_at) >= 0:
            closed += f' <span class="muted">(open for {_duration(span)})</span>'
        facts.append(("Closed", closed))
    if header.closed_at is not None or header.closed_by is not None:
        by = _esc(header.closed_by) if header.closed_by else '<span class="muted">unknown</span>'
        facts.append(("Closed by", by))
    if header.closed_at is not None or header.close_reason is not None:
        reason = (
            _esc(header.close_reason)
            if header.close_reason
            else '<span class="muted">no reason given</span>'
        )
        facts.append(("Reason", reason))
    if stats.first_reply is None:
        first = '<span class="muted">none</span>'
    else:
        at, name = stats.first_reply
        first = f"{_time_tag(at, 's')} by {_esc(name)}"
        if (wait := at - header.opened_at) >= 0:
            first += f' <span class="muted">({_duration(wait)} after opening)</span>'
    facts.append(("First staff reply", first))
    facts.append(("Messages", str(stats.count)))
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    warnings = []
    if not header.content_visible:
        warnings.append(_esc(CONTENT_HIDDEN_WARNING))
    if header.assets_note:
        warnings.append(_esc(header.assets_note))
    warning = "".join(f'<div class="warning" role="note">⚠ {w}</div>' for w in warnings)
    return (
        '<header class="ticket">'
        f'<div class="server">{_esc(header.server_name)}</div>'
        f'<h1><span class="hash">#</span>{_esc(header.ticket_name)}'
        f'<span class="number">Ticket {ticket_tag(header.ticket_number)}</span></h1>'
        f'<dl class="facts">{rows}</dl>{warning}</header>'
    )


def _embed(embed: TranscriptEmbed, md: _Markdown) -> str:
    parts: list[str] = []
    if embed.title:
        parts.append(f'<div class="embed-title">{md.render(embed.title, blocks=False)}</div>')
    if embed.description:
        parts.append(f'<div class="embed-description">{md.render(embed.description)}</div>')
    if embed.fields:
        fields = "".join(
            '<div class="embed-field">'
            f'<div class="embed-field-name">{md.render(f.name, blocks=False, links=False)}</div>'
            f'<div class="embed-field-value">{md.render(f.value)}</div></div>'
            for f in embed.fields
        )
        parts.append(f'<div class="embed-fields">{fields}</div>')
    return (
        f'<div class="embed" style="border-left-color:{_colour(embed.colour)}">'
        f"{''.join(parts)}</div>"
    )


def _extension(filename: str) -> str:
    """ "report.PDF" → "PDF" for the file icon; "FILE" when there is no short alphanumeric one."""
    _, dot, ext = filename.rpartition(".")
    return ext.upper() if dot and 0 < len(ext) <= 4 and ext.isascii() and ext.isalnum() else "FILE"


def _attachment(attachment: TranscriptAttachment) -> str:
    name = _esc(attachment.filename) or "(unnamed file)"
    size = human_size(attachment.size)
    local = _local(attachment.saved) if attachment.saved is not None else None
    if local is not None and attachment.saved is not None and attachment.saved.image:
        return (
            f'<a class="image" href="{local}" title="{name}" target="_blank">'
            f'<img src="{local}" alt="{name}" loading="lazy"></a>'
        )
    url = safe_url(_clean(attachment.url))
    if local is not None:
        link = f'<a class="filename" href="{local}" title="{name}" target="_blank">{name}</a>'
    elif url is None:
        link = f'<span class="filename">{name}</span>'
        size += " · link not shown (not an http(s) URL)"
    else:
        href = _esc(url)
        link = (
            f'<a class="filename" href="{href}" title="{href}" '
            f'rel="noopener noreferrer nofollow" target="_blank">{name}</a>'
        )
    note = ""
    if local is None and attachment.not_saved:
        note = f' · <span class="note">not saved: {_esc(attachment.not_saved)}</span>'
    return (
        '<div class="attachment">'
        f'<span class="icon" aria-hidden="true">{_extension(attachment.filename)}</span>'
        f'<div>{link}<div class="size">{size}{note}</div></div></div>'
    )


def _avatar(author: TranscriptAuthor) -> str:
    local = _local(author.avatar) if author.avatar is not None and author.avatar.image else None
    if local is not None:
        return f'<img class="avatar" src="{local}" alt="" aria-hidden="true">'
    avatar_url = safe_url(_clean(author.avatar_url or ""))
    data = f' data-avatar="{_esc(avatar_url)}"' if avatar_url else ""
    return (
        f'<div class="avatar" style="background:{avatar_colour(author.id)}"{data} '
        f'aria-hidden="true">{_initial(author.name)}</div>'
    )


def _reply(reply: TranscriptReply, md: _Markdown) -> str:
    if reply.author is None:
        deleted = '<span class="reply-text muted">Original message was deleted</span>'
        return f'<div class="reply">{deleted}</div>'
    first_line = _clean(reply.content).strip().split("\n", 1)[0]
    first_line = _BLOCK_MARKER.sub("", first_line)[:_REPLY_CHARS]  # a heading reads as text there
    text = (
        md.render(first_line, blocks=False, links=False) if first_line else "<em>(attachment)</em>"
    )
    author = (
        f'<span class="author" title="User {reply.author.id}">@{_esc(reply.author.name)}</span>'
    )
    body = f'<span class="reply-text">{text}</span>'
    if reply.message_id is not None:
        body = f'<a class="reply-text" href="#m-{reply.message_id}">{text}</a>'
    return f'<div class="reply">{author}{body}</div>'


def _extras(
    embeds: Sequence[TranscriptEmbed], attachments: Sequence[TranscriptAttachment], md: _Markdown
) -> list[str]:
    return [_embed(e, md) for e in embeds] + [_attachment(a) for a in attachments]


def _forward(forward: TranscriptForward, md: _Markdown) -> str:
    parts = ['<div class="forward-label">↱ Forwarded</div>']
    if forward.content:
        parts.append(f'<div class="content">{md.render(forward.content)}</div>')
    parts.extend(_extras(forward.embeds, forward.attachments, md))
    if forward.created_at is not None:
        parts.append(f'<div class="muted">{_time_tag(forward.created_at, "m")}</div>')
    return f'<div class="forward">{"".join(parts)}</div>'


def _system(msg: TranscriptMessage, md: _Markdown) -> str:
    """A pin, a join, ...: one line, as Discord shows it."""
    author = msg.author
    name = f'<span class="author" title="User {author.id}">{_esc(author.name)}</span>'
    target = _esc(msg.target) if msg.target else "someone"
    text = SYSTEM_MESSAGES[msg.type].format(
        author=name,
        target=f'<span class="author">{target}</span>',
        content=md.render(msg.content, blocks=False, links=False),
    )
    icon = _SYSTEM_ICONS.get(msg.type, "•")
    return (
        f'<article class="msg system" id="m-{msg.id}" data-author="{author.id}">'
        f'<div class="gutter" aria-hidden="true">{icon}</div>'
        f'<div class="body">{text}{_time_tag(msg.created_at, "m")}</div></article>'
    )


def _message(msg: TranscriptMessage, md: _Markdown, *, start: bool, content_visible: bool) -> str:
    if msg.type in SYSTEM_MESSAGES:
        return _system(msg, md)
    body: list[str] = []
    edited = ""
    if msg.edited_at is not None:
        edited = (
            f'<span class="edited" title="Edited {_esc(format_utc(msg.edited_at))}">(edited)</span>'
        )
    if msg.content:
        body.append(f'<div class="content">{md.render(msg.content)}{edited}</div>')
    elif not (msg.embeds or msg.attachments or msg.forwarded or msg.stickers):
        note = "message text not visible" if not content_visible else "no text content"
        body.append(f'<div class="content note">({note}){edited}</div>')
    elif edited:
        body.append(f'<div class="content">{edited}</div>')
    if msg.forwarded is not None:
        body.append(_forward(msg.forwarded, md))
    body.extend(_extras(msg.embeds, msg.attachments, md))
    body.extend(
        f'<div class="sticker" title="Sticker">Sticker: {_esc(n)}</div>' for n in msg.stickers
    )

    author = msg.author
    if start:
        badge = '<span class="badge">BOT</span>' if author.bot else ""
        side = _avatar(author)
        reply = _reply(msg.reply, md) if msg.reply is not None else ""
        meta = (
            f'{reply}<h2 class="meta"><span class="author" title="User {author.id}">'
            f"{_esc(author.name)}</span>{badge}{_time_tag(msg.created_at, 'm')}</h2>"
        )
    else:
        side = f'<div class="gutter">{_time_tag(msg.created_at, "g")}</div>'
        meta = ""
    cls = "msg start" if start else "msg"
    return (
        f'<article class="{cls}" id="m-{msg.id}" data-author="{author.id}">{side}'
        f'<div class="body">{meta}{"".join(body)}</div></article>'
    )


_REPLY_CHARS = 200
_BLOCK_MARKER = re.compile(r"^(?:#{1,3}|-#|>{1,3}|[-*]|\d{1,9}\.) +")


@dataclass(slots=True)
class _Stats:
    count: int = 0
    first_reply: tuple[float, str] | None = None  # when, and who


class TranscriptRenderer:
    """One transcript, a message at a time: `message()` for each in order, then `head()` (which
    knows the count and the first reply by then) and `tail()`; the page is head + messages + tail.
    """

    def __init__(
        self,
        header: TranscriptHeader,
        names: Names,
        emoji: Mapping[int, SavedFile] | None = None,
    ) -> None:
        self._header = header
        self._md = _Markdown(names, {} if emoji is None else emoji)
        self._stats = _Stats()
        self._previous: TranscriptMessage | None = None
        self._previous_day: str | None = None

    @property
    def count(self) -> int:
        return self._stats.count

    def message(self, msg: TranscriptMessage) -> str:
        """The message's HTML, with a day divider before it when the day changes."""
        stats = self._stats
        stats.count += 1
        author = msg.author
        if (
            stats.first_reply is None
            and msg.type in _CHAT_TYPES
            and author.id != self._header.opener_id
            and not author.bot
        ):
            stats.first_reply = (msg.created_at, author.name)
        parts = []
        dt = _utc(msg.created_at)
        day = _date(dt) if dt else None
        if dt is not None and day != self._previous_day:
            parts.append(
                f'<div class="divider"><span>{_time_tag(msg.created_at, "day")}</span></div>\n'
            )
        previous = self._previous
        start = (
            previous is None
            or previous.author.id != author.id
            or day != self._previous_day
            or not 0 <= msg.created_at - previous.created_at < GROUP_SECONDS
            or msg.reply is not None
            or previous.type in SYSTEM_MESSAGES
        )
        parts.append(
            _message(msg, self._md, start=start, content_visible=self._header.content_visible)
        )
        parts.append("\n")
        self._previous, self._previous_day = msg, day
        return "".join(parts)

    def head(self, assets_note: str | None = None) -> str:
        header = self._header
        if assets_note is not None:
            header = replace(header, assets_note=assets_note)
        number = ticket_tag(header.ticket_number)
        title = f"Ticket {number} · {header.ticket_name} · {header.server_name}"
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            f'{_header(header, self._stats)}\n<main class="messages">\n'
        )

    def tail(self) -> str:
        count = self._stats.count
        empty = '<p class="footer">No messages.</p>\n' if not count else ""
        return (
            f'{empty}</main>\n<footer class="footer">End of transcript · {count} '
            f"message{'' if count == 1 else 's'} · "
            '<span class="zone">times in UTC</span></footer>\n'
            f'<script src="{TIME_SCRIPT}"></script>\n</body>\n</html>\n'
        )


def render_transcript(
    header: TranscriptHeader,
    messages: Iterable[TranscriptMessage],
    names: Names,
    emoji: Mapping[int, SavedFile] | None = None,
) -> str:
    """The whole transcript as one HTML document (see the module docstring)."""
    renderer = TranscriptRenderer(header, names, emoji)
    body = "".join(renderer.message(msg) for msg in messages)
    return renderer.head() + body + renderer.tail()


def with_rating(document: str, rating: int, comment: str | None) -> str:
    """A saved transcript with the opener's rating added to its header's facts."""
    stars = "★" * rating + "☆" * (5 - rating)
    value = f"{stars} {rating}/5" + (f" — {_esc(comment)}" if comment else "")
    return document.replace("</dl>", f"<dt>Rating</dt><dd>{value}</dd></dl>", 1)
