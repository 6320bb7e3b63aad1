"""Ticket transcripts: one self-contained HTML file that reads like the Discord conversation.

`render_transcript` is pure: plain dataclasses in, a string out; no clock, no I/O, no hikari, so the
same input always gives the same bytes.

Self-contained: inline CSS only, no scripts, and nothing the page fetches when it is opened (no
fonts, stylesheets or images; avatars are coloured circles with an initial). A
Content-Security-Policy (`default-src 'none'`) forbids loading or running anything anyway, as a
second line behind the escaping. Attachments and URLs are plain links: a link is not fetched until
somebody clicks it, and only http(s) URLs ever become links.

Escaping: every piece of user text is escaped with `html.escape` first. The markdown pass then runs
on the escaped text, in which `<`, `>`, `"`, `'` and `&` only occur inside entities, and it emits
that text verbatim, adding only fixed tags. The attributes it writes come from digits, from fixed
strings, or from URLs that it unescapes, checks to be http(s) and escapes again. Its delimiters
(`*`, `_`, `~`, `|`, backticks) never occur inside an entity, so no span can cut one in half.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

# --------------------------------------------------------------------------------------------------
# Input


@dataclass(frozen=True, slots=True)
class TranscriptAuthor:
    id: int
    name: str
    avatar_url: str | None
    bot: bool = False


@dataclass(frozen=True, slots=True)
class TranscriptAttachment:
    filename: str
    url: str
    size: int


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
class TranscriptMessage:
    id: int
    author: TranscriptAuthor
    content: str
    created_at: float  # unix seconds
    edited_at: float | None
    embeds: tuple[TranscriptEmbed, ...] = ()
    attachments: tuple[TranscriptAttachment, ...] = ()


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


def _time_tag(ts: float, text: Callable[[datetime], str], css: str = "") -> str:
    dt = _utc(ts)
    if dt is None:
        return _esc(str(ts))
    cls = f' class="{css}"' if css else ""
    return f'<time{cls} datetime="{_iso(dt)}" title="{_full(dt)}">{text(dt)}</time>'


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


# Discord's `<t:unix:style>`; R (relative) has no "now" in a transcript, so it is shown in full.
_TIMESTAMP_STYLES: Mapping[str, Callable[[datetime], str]] = {
    "t": lambda dt: f"{_hm(dt)} UTC",
    "T": lambda dt: f"{_hms(dt)} UTC",
    "d": _date,
    "D": _long_date,
    "f": lambda dt: f"{_long_date(dt)} {_hm(dt)} UTC",
    "F": lambda dt: f"{_WEEKDAYS[dt.weekday()]}, {_long_date(dt)} {_hm(dt)} UTC",
    "R": lambda dt: f"{_long_date(dt)} {_hm(dt)} UTC",
}

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
_AUTOLINK = re.compile(r"&lt;(https?://[^\s]+?)&gt;")
_MASKED_LINK = re.compile(r"\[([^\[\]\n]+)\]\(\s*(?:&lt;)?(https?://[^\s()]+?)(?:&gt;)?\s*\)")
_URL = re.compile(r"https?://\S+")
_USER_MENTION = re.compile(r"&lt;@!?(\d{1,20})&gt;")
_ROLE_MENTION = re.compile(r"&lt;@&amp;(\d{1,20})&gt;")
_CHANNEL_MENTION = re.compile(r"&lt;#(\d{1,20})&gt;")
_COMMAND_MENTION = re.compile(r"&lt;/([\w\- ]{1,100}):(\d{1,20})&gt;")
_CUSTOM_EMOJI = re.compile(r"&lt;a?:([A-Za-z0-9_]{1,32}):\d{1,20}&gt;")
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

    def __init__(self, names: Names) -> None:
        self._names = names
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
        """Raw user text → HTML. `blocks`: quotes allowed; `links`: URLs become links."""
        return self._parse(_esc(text), 0, top=blocks, links=links)

    def _parse(self, s: str, depth: int, *, top: bool, links: bool) -> str:
        if depth > _MAX_DEPTH:
            return s
        out: list[str] = []
        pos, end = 0, len(s)
        while pos < end:
            if top and (pos == 0 or s[pos - 1] == "\n"):
                quoted = self._quote(s, pos, depth, links)
                if quoted is not None:
                    out.append(quoted[0])
                    pos = quoted[1]
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

    # Blocks

    def _quote(self, s: str, pos: int, depth: int, links: bool) -> _Result:
        m = _QUOTE_REST.match(s, pos)
        if m is not None:
            inner = m.group(1)
        else:
            m = _QUOTE_LINES.match(s, pos)
            if m is None:
                return None
            inner = _QUOTE_PREFIX.sub("", m.group().removesuffix("\n"))
        body = self._parse(inner, depth + 1, top=False, links=links)
        return f"<blockquote>{body}</blockquote>", m.end()

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
        return f'<span class="emoji" title="Custom emoji">:{m.group(1)}:</span>', m.end()

    def _timestamp(self, m: re.Match[str], _depth: int, _links: bool) -> _Result:
        fmt = _TIMESTAMP_STYLES[m.group(2) or "f"]
        if _utc(int(m.group(1))) is None:
            return None
        return _time_tag(int(m.group(1)), fmt, "timestamp"), m.end()


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
.footer{color:#949ba4;font-size:12px;text-align:center;padding:16px;border-top:1px solid #3f4147}
@media print{.spoiler{color:inherit;background:none}.spoiler *{visibility:visible}}
""".strip()

_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _header(header: TranscriptHeader, message_count: int) -> str:
    if header.source == "api":
        source = "API"
    elif header.button_label is not None:
        source = f"Button “{_esc(header.button_label)}”"
    else:
        source = "Button"
    facts = [
        ("Opened by", f'{_esc(header.opener)} <span class="id">({header.opener_id})</span>'),
        ("Source", source),
        ("Opened", _time_tag(header.opened_at, lambda dt: f"{_date(dt)} {_hms(dt)} UTC")),
    ]
    if header.closed_at is None:
        facts.append(("Closed", '<span class="muted">still open</span>'))
    else:
        closed = _time_tag(header.closed_at, lambda dt: f"{_date(dt)} {_hms(dt)} UTC")
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
    facts.append(("Messages", str(message_count)))
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    warning = (
        ""
        if header.content_visible
        else f'<div class="warning" role="note">⚠ {_esc(CONTENT_HIDDEN_WARNING)}</div>'
    )
    return (
        '<header class="ticket">'
        f'<div class="server">{_esc(header.server_name)}</div>'
        f'<h1><span class="hash">#</span>{_esc(header.ticket_name)}'
        f'<span class="number">Ticket #{header.ticket_number}</span></h1>'
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
    url = safe_url(_clean(attachment.url))
    if url is None:
        link = f'<span class="filename">{name}</span>'
        size += " · link not shown (not an http(s) URL)"
    else:
        href = _esc(url)
        link = (
            f'<a class="filename" href="{href}" title="{href}" '
            f'rel="noopener noreferrer nofollow" target="_blank">{name}</a>'
        )
    return (
        '<div class="attachment">'
        f'<span class="icon" aria-hidden="true">{_extension(attachment.filename)}</span>'
        f'<div>{link}<div class="size">{size}</div></div></div>'
    )


def _message(msg: TranscriptMessage, md: _Markdown, *, start: bool, content_visible: bool) -> str:
    body: list[str] = []
    edited = ""
    if msg.edited_at is not None:
        edited = (
            f'<span class="edited" title="Edited {_esc(format_utc(msg.edited_at))}">(edited)</span>'
        )
    if msg.content:
        body.append(f'<div class="content">{md.render(msg.content)}{edited}</div>')
    elif not msg.embeds and not msg.attachments:
        note = "message text not visible" if not content_visible else "no text content"
        body.append(f'<div class="content note">({note}){edited}</div>')
    elif edited:
        body.append(f'<div class="content">{edited}</div>')
    body.extend(_embed(embed, md) for embed in msg.embeds)
    body.extend(_attachment(attachment) for attachment in msg.attachments)

    author = msg.author
    if start:
        avatar_url = safe_url(_clean(author.avatar_url or ""))
        data = f' data-avatar="{_esc(avatar_url)}"' if avatar_url else ""
        badge = '<span class="badge">BOT</span>' if author.bot else ""
        when = _time_tag(msg.created_at, lambda dt: f"{_date(dt)} {_hm(dt)} UTC")
        side = (
            f'<div class="avatar" style="background:{avatar_colour(author.id)}"{data} '
            f'aria-hidden="true">{_initial(author.name)}</div>'
        )
        meta = (
            f'<h2 class="meta"><span class="author" title="User {author.id}">'
            f"{_esc(author.name)}</span>{badge}{when}</h2>"
        )
    else:
        side = f'<div class="gutter">{_time_tag(msg.created_at, _hm)}</div>'
        meta = ""
    cls = "msg start" if start else "msg"
    return (
        f'<article class="{cls}" id="m-{msg.id}" data-author="{author.id}">{side}'
        f'<div class="body">{meta}{"".join(body)}</div></article>'
    )


def render_transcript(
    header: TranscriptHeader, messages: Sequence[TranscriptMessage], names: Names
) -> str:
    """The whole transcript as one self-contained HTML document (see the module docstring)."""
    md = _Markdown(names)
    title = f"Ticket #{header.ticket_number} · {header.ticket_name} · {header.server_name}"
    parts = [
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n",
        _header(header, len(messages)),
        '\n<main class="messages">\n',
    ]
    previous: TranscriptMessage | None = None
    previous_day: str | None = None
    for msg in messages:
        dt = _utc(msg.created_at)
        day = _date(dt) if dt else None
        if dt is not None and day != previous_day:
            parts.append(f'<div class="divider"><span>{_long_date(dt)}</span></div>\n')
        start = (
            previous is None
            or previous.author.id != msg.author.id
            or day != previous_day
            or not 0 <= msg.created_at - previous.created_at < GROUP_SECONDS
        )
        parts.append(_message(msg, md, start=start, content_visible=header.content_visible))
        parts.append("\n")
        previous, previous_day = msg, day
    if not messages:
        parts.append('<p class="footer">No messages.</p>\n')
    parts.append(
        f'</main>\n<footer class="footer">End of transcript · {len(messages)} '
        f"message{'' if len(messages) == 1 else 's'} · times in UTC</footer>\n</body>\n</html>\n"
    )
    return "".join(parts)


def with_rating(document: str, rating: int, comment: str | None) -> str:
    """A saved transcript with the opener's rating added to its header's facts."""
    stars = "★" * rating + "☆" * (5 - rating)
    value = f"{stars} {rating}/5" + (f" — {_esc(comment)}" if comment else "")
    return document.replace("</dl>", f"<dt>Rating</dt><dd>{value}</dd></dl>", 1)
