"""`bot.core.transcripts`: escaping, markdown, mentions, timestamps, layout; pure and fast."""

from __future__ import annotations

import html
import random
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot.core.transcripts import (
    CONTENT_HIDDEN_WARNING,
    Names,
    SavedFile,
    TranscriptAttachment,
    TranscriptAuthor,
    TranscriptEmbed,
    TranscriptEmbedField,
    TranscriptForward,
    TranscriptHeader,
    TranscriptMessage,
    TranscriptRenderer,
    TranscriptReply,
    avatar_colour,
    custom_emoji,
    format_utc,
    human_size,
    render_transcript,
    safe_url,
)

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC (a Tuesday)

ALICE = TranscriptAuthor(111, "Alice", None)
BOB = TranscriptAuthor(222, "Bob", None)
BOT = TranscriptAuthor(333, "Rimpllee", None, bot=True)
NAMES = Names(
    users={111: "Alice", 222: "Bob", 444: "<b>Eve</b>"},
    roles={555: "Support", 556: "<i>Mods</i>"},
    channels={777: "rules"},
)

HEADER = TranscriptHeader(
    server_name="Blocky Realms",
    ticket_name="report-0042",
    ticket_number=42,
    opener="Alice",
    opener_id=111,
    source="button",
    button_label="Report a player",
    opened_at=T0,
    closed_at=T0 + 3 * 3600 + 5 * 60,
    closed_by="Bob",
    close_reason="Resolved",
    content_visible=True,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TITLE_BREAK = "</title><script>"
HOSTILE = (SCRIPT, IMG, TITLE_BREAK)


def msg(
    content: str,
    *,
    id: int = 1,
    author: TranscriptAuthor = ALICE,
    at: float = T0,
    edited_at: float | None = None,
    embeds: tuple[TranscriptEmbed, ...] = (),
    attachments: tuple[TranscriptAttachment, ...] = (),
    **more: Any,
) -> TranscriptMessage:
    return TranscriptMessage(id, author, content, at, edited_at, embeds, attachments, **more)


def render(*messages: TranscriptMessage, header: TranscriptHeader = HEADER) -> str:
    return render_transcript(header, messages, NAMES)


def content_of(text: str) -> str:
    """The HTML of one message's text."""
    out = render(msg(text))
    match = re.search(r'<div class="content">(.*?)</div>', out, re.DOTALL)
    assert match is not None, out
    return match.group(1)


# --------------------------------------------------------------------------------------------------
# A strict reading of the output: which tags and attributes it has, and whether they nest.

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "div", "p", "h1",
    "h2", "h3", "h4", "h5", "small", "ul", "ol", "li", "dl", "dt", "dd", "article", "span", "time",
    "blockquote", "pre", "code", "strong", "em", "u", "s", "a", "img", "script",
}  # fmt: skip
ALLOWED_ATTRS = {
    "lang", "charset", "http-equiv", "content", "name", "class", "id", "title", "datetime", "href",
    "rel", "target", "style", "tabindex", "role", "aria-hidden", "data-lang", "data-author",
    "data-avatar", "data-f", "src", "alt", "loading", "start",
}  # fmt: skip
VOID = {"meta", "img"}
STYLE_ATTR = re.compile(r"(border-left-color|background):#[0-9a-f]{6}")
# The only places a transcript points at on disk: its own assets folder.
LOCAL = re.compile(r"assets/(files|avatars|emoji)/[A-Za-z0-9][A-Za-z0-9._-]*")
SCRIPT_TAG = '<script src="assets/time.js"></script>'


class Doc(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.title = ""
        self._stack: list[str] = []
        self.feed(source)
        self.close()
        assert self._stack == [], f"unclosed: {self._stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        assert self._stack, f"</{tag}> closes nothing"
        assert self._stack.pop() == tag, f"</{tag}> closes the wrong element"

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1] == "title":
            self.title += data
        elif not self._stack or self._stack[-1] != "style":
            self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def inert(out: str) -> Doc:
    """Parse `out` and prove it can neither run nor load anything; return it for more checks."""
    doc = Doc(out)
    for tag, attrs in doc.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRS, (tag, name, value)
            assert value is not None
            if name == "href":
                assert (
                    value.startswith(("https://", "http://"))
                    or LOCAL.fullmatch(value)
                    or re.fullmatch(r"#m-\d+", value)
                ), value
            if name == "data-avatar":
                assert value.startswith(("https://", "http://")), value
            if name == "src":
                assert tag in {"img", "script"}, tag
                assert LOCAL.fullmatch(value) if tag == "img" else value == "assets/time.js", value
                assert ".." not in value
            if name == "style":
                assert STYLE_ATTR.fullmatch(value), value
    lowered = out.lower()
    assert lowered.count("<script") == 1, "only the local time script"
    assert SCRIPT_TAG in out
    for needle in ("<link", "<iframe", "<object", "<embed", "@import", "url(", "javascript:"):
        if needle == "javascript:":
            # Allowed only as visible text, never where a browser would act on it.
            assert all("javascript:" not in str(a).lower() for _, a in doc.tags), needle
        else:
            assert needle not in lowered, needle
    assert re.search(r"<[^>]*\son\w+\s*=", out) is None  # no event handler attribute in any tag
    return doc


# --------------------------------------------------------------------------------------------------
# Escaping


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_message_content_is_text(payload: str) -> None:
    out = render(msg(f"before {payload} after"))
    doc = inert(out)
    assert payload not in out
    assert html.escape(payload) in out
    assert f"before {payload} after" in doc.visible


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_names_are_text(payload: str) -> None:
    author = TranscriptAuthor(999, payload, f"https://cdn.example/{payload}")
    header = replace(
        HEADER,
        server_name=payload,
        ticket_name=payload,
        opener=payload,
        button_label=payload,
        closed_by=payload,
        close_reason=payload,
    )
    out = render(msg("hello", author=author), header=header)
    doc = inert(out)
    assert payload not in out
    assert doc.title == f"Ticket #0042 · {payload} · {payload}"
    assert (
        doc.visible.count(payload) >= 7
    )  # server, channel, opener, button, closer, reason, author
    assert html.escape(payload) in out


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_embed_text_is_text(payload: str) -> None:
    embed = TranscriptEmbed(
        title=payload,
        description=f"**{payload}** {payload}",
        colour=0x123456,
        fields=(TranscriptEmbedField(payload, payload), TranscriptEmbedField("q", f"_{payload}_")),
    )
    out = render(msg("", embeds=(embed,)))
    doc = inert(out)
    assert payload not in out
    assert doc.visible.count(payload) == 6
    assert 'style="border-left-color:#123456"' in out


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_attachment_filename_is_text(payload: str) -> None:
    attachment = TranscriptAttachment(payload, "https://cdn.example/f", 10)
    out = render(msg("", attachments=(attachment,)))
    doc = inert(out)
    assert payload not in out
    assert payload in doc.visible


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "https://",
    ],
)
def test_unsafe_attachment_url_is_not_linked(url: str) -> None:
    attachment = TranscriptAttachment("evil.txt", url, 10)
    out = render(msg("", attachments=(attachment,)))
    doc = inert(out)
    assert "javascript" not in out.lower()
    assert "data:" not in out
    assert "evil.txt" in doc.visible
    assert "link not shown" in doc.visible
    assert not any(tag == "a" for tag, _ in doc.tags)


def test_safe_attachment_url_is_linked_with_size() -> None:
    url = "https://cdn.discordapp.com/attachments/1/2/shot.png?ex=1&is=2"
    out = render(msg("", attachments=(TranscriptAttachment("shot.png", url, 2_483_114),)))
    doc = inert(out)
    links = [attrs for tag, attrs in doc.tags if tag == "a"]
    assert [link["href"] for link in links] == [url]
    assert 'href="https://cdn.discordapp.com/attachments/1/2/shot.png?ex=1&amp;is=2"' in out
    assert "shot.png" in doc.visible
    assert "2.4 MB" in doc.visible


def test_quotes_in_an_attachment_url_stay_inside_the_attribute() -> None:
    url = 'https://cdn.example/a"onmouseover="alert(1)'
    out = render(msg("", attachments=(TranscriptAttachment("f.txt", url, 1),)))
    doc = inert(out)
    assert [attrs["href"] for tag, attrs in doc.tags if tag == "a"] == [url]
    assert 'href="https://cdn.example/a&quot;onmouseover=&quot;alert(1)"' in out


def test_unsafe_avatar_url_is_dropped_and_no_avatar_is_fetched() -> None:
    bad = TranscriptAuthor(1, "Mallory", "javascript:alert(1)")
    good = TranscriptAuthor(2, "Alice", "https://cdn.example/a.png")
    out = render(msg("a", author=bad), msg("b", id=2, author=good))
    inert(out)
    assert "javascript" not in out
    assert 'data-avatar="https://cdn.example/a.png"' in out
    assert ">M</div>" in out
    assert ">A</div>" in out
    assert f"background:{avatar_colour(1)}" in out


@pytest.mark.parametrize(
    "text",
    [
        '[click](https://a.example/"onmouseover="alert(1))',
        'https://a.example/"onmouseover=alert(1)//',
        "<https://a.example/\"onclick='alert(1)'>",
        '**"onclick=alert(1) x="**',
        "[**x**](javascript:alert(1))",
        "<javascript:alert(1)>",
        '||`"><img src=x onerror=alert(1)>`||',
        '```"><script>alert(1)</script>\n```',
        "[a](https://x.example/)<script>",
        "\\<script>alert(1)</script>",
        '<@111"onclick="alert(1)> <t:1700000000:R"onclick=x>',
    ],
)
def test_markdown_cannot_inject_markup(text: str) -> None:
    out = render(msg(text))
    inert(out)
    assert out.count("<script") == 1  # the local time script, nothing from the text
    assert "<img" not in out


def test_control_characters_and_lone_surrogates_are_replaced() -> None:
    out = render(msg("a\x00b\x1bc\ud800d\r\ne"), header=replace(HEADER, opener="x\x07y"))
    out.encode("utf-8")  # would raise on a lone surrogate
    assert "a\ufffdb\ufffdc\ufffdd\ne" in out
    assert "x\ufffdy" in out


# --------------------------------------------------------------------------------------------------
# Markdown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold**", "<strong>bold</strong>"),
        ("*italic*", "<em>italic</em>"),
        ("_italic_", "<em>italic</em>"),
        ("__underline__", "<u>underline</u>"),
        ("~~strike~~", "<s>strike</s>"),
        ("***both***", "<strong><em>both</em></strong>"),
        ("**a *b* c**", "<strong>a <em>b</em> c</strong>"),
        ("__*u and i*__", "<u><em>u and i</em></u>"),
        ("`code`", "<code>code</code>"),
        ("`**not bold** <@111> _x_`", "<code>**not bold** &lt;@111&gt; _x_</code>"),
        ("``a ` b``", "<code>a ` b</code>"),
        ("||secret||", '<span class="spoiler" tabindex="0" title="Spoiler">secret</span>'),
        ("||**loud** secret||", "<strong>loud</strong> secret</span>"),
        ("snake_case_name", "snake_case_name"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("**unclosed", "**unclosed"),
        ("\\*not italic\\*", "*not italic*"),
        ("\\_not\\_", "_not_"),
        ("line one\nline two", "line one\nline two"),
        ("a  b", "a  b"),
        ("> quoted **bold**", "<blockquote>quoted <strong>bold</strong></blockquote>"),
        ("> one\n> two\nafter", "<blockquote>one\ntwo</blockquote>after"),
        ("before\n> q", "before\n<blockquote>q</blockquote>"),
        (">>> all\nof\nthis", "<blockquote>all\nof\nthis</blockquote>"),
        (">no space", "&gt;no space"),
        ("a > b", "a &gt; b"),
        ("**> not a quote**", "<strong>&gt; not a quote</strong>"),
        ("&amp; & <3", "&amp;amp; &amp; &lt;3"),
    ],
)
def test_markdown(text: str, expected: str) -> None:
    assert expected in content_of(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```\nplain\n```", '<pre class="codeblock"><code>plain</code></pre>'),
        ("```one line```", '<pre class="codeblock"><code>one line</code></pre>'),
        (
            "```py\nprint('**x**')\n```",
            '<pre class="codeblock"><code data-lang="py">print(&#x27;**x**&#x27;)</code></pre>',
        ),
        (
            "```md\n**bold?** _no_ ~~x~~ ||s|| > q\n<@111> <#777> @everyone https://a.example\n```",
            '<code data-lang="md">**bold?** _no_ ~~x~~ ||s|| &gt; q\n'
            "&lt;@111&gt; &lt;#777&gt; @everyone https://a.example</code>",
        ),
        ("```\n> not a quote\n```", "<code>&gt; not a quote</code>"),
        ("text\n```\ncode\n```\nmore", "text\n<pre"),
        ("text\n```\ncode\n```\nmore", "</pre>more"),  # the block's own line break is not doubled
    ],
)
def test_code_blocks_stay_literal(text: str, expected: str) -> None:
    out = content_of(text)
    assert expected in out
    if "codeblock" in expected:
        assert "<strong>" not in out
        assert "<a " not in out
        assert "mention" not in out


@pytest.mark.parametrize(
    ("text", "href", "shown"),
    [
        ("see https://example.com/a_b_c now", "https://example.com/a_b_c", None),
        ("https://example.com/x.", "https://example.com/x", None),
        ("(https://example.com/x)", "https://example.com/x", None),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            None,
        ),
        ("http://example.com/?a=1&b=2", "http://example.com/?a=1&b=2", None),
        ("<https://example.com/quiet>", "https://example.com/quiet", None),
        ("**https://example.com/b**", "https://example.com/b", None),
        ("[the docs](https://example.com/docs)", "https://example.com/docs", "the docs"),
        ("[**docs**](<https://example.com/d>)", "https://example.com/d", "docs"),
    ],
)
def test_links(text: str, href: str, shown: str | None) -> None:
    doc = inert(render(msg(text)))
    links = [attrs for tag, attrs in doc.tags if tag == "a"]
    assert [link["href"] for link in links] == [href]
    assert links[0]["rel"] == "noopener noreferrer nofollow"
    assert (shown or href) in doc.visible


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "[x](javascript:alert(1))",
        "ftp://example.com/file",
        "http://",
        "`https://example.com/in-code`",
        "file:///etc/passwd",
    ],
)
def test_not_links(text: str) -> None:
    doc = inert(render(msg(text)))
    assert not any(tag == "a" for tag, _ in doc.tags)


def test_deep_or_pathological_markdown_renders_well_formed() -> None:
    rng = random.Random(1234)
    alphabet = ["*", "**", "_", "__", "~~", "||", "`", "```", "> ", "\n", "\\", "a", " ", "<@111>"]
    alphabet += ["https://x.example/", "[", "](", ")", "<", ">", '"', "&", "'", "<t:1700000000>"]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 80)))
        inert(render(msg(text)))
    for text in ("**" * 1000, "||" * 1000, "*_" * 500 + "x" + "_*" * 500, "`" * 2000, "> \n" * 500):
        inert(render(msg(text)))


# --------------------------------------------------------------------------------------------------
# Mentions, emoji, timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@111>", ">@Alice</span>"),
        ("<@!222>", ">@Bob</span>"),
        ("<@987654321>", ">@unknown-user</span>"),
        ("<@444>", ">@&lt;b&gt;Eve&lt;/b&gt;</span>"),
        ("<@&555>", ">@Support</span>"),
        ("<@&556>", ">@&lt;i&gt;Mods&lt;/i&gt;</span>"),
        ("<@&1>", ">@unknown-role</span>"),
        ("<#777>", ">#rules</span>"),
        ("<#1>", ">#unknown-channel</span>"),
        ("@everyone", '<span class="mention" title="Everyone">@everyone</span>'),
        ("@here", '<span class="mention" title="Everyone online">@here</span>'),
        ("</ticket close:123>", ">/ticket close</span>"),
        ("<:pepe:123456>", ">:pepe:</span>"),
        ("<a:dance:123456>", ">:dance:</span>"),
        ("**<@111>**", "<strong><span"),
    ],
)
def test_mentions_and_emoji(text: str, expected: str) -> None:
    out = content_of(text)
    assert expected in out
    assert "&lt;@" not in out or "Eve" in out  # resolved, not left as raw syntax


def test_mention_ids_are_kept_in_titles() -> None:
    out = content_of("<@987654321> <@&555> <#777>")
    assert 'title="User 987654321"' in out
    assert 'title="Role 555"' in out
    assert 'title="Channel 777"' in out


def test_not_mentions() -> None:
    assert content_of("mail me@everyone.example") == "mail me@everyone.example"
    assert content_of("<@abc>") == "&lt;@abc&gt;"
    assert content_of("\\<@111>") == "&lt;@111&gt;"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<t:1700000000>", "14 November 2023 22:13 UTC"),
        ("<t:1700000000:t>", "22:13 UTC"),
        ("<t:1700000000:T>", "22:13:20 UTC"),
        ("<t:1700000000:d>", "2023-11-14"),
        ("<t:1700000000:D>", "14 November 2023"),
        ("<t:1700000000:f>", "14 November 2023 22:13 UTC"),
        ("<t:1700000000:F>", "Tuesday, 14 November 2023 22:13 UTC"),
        ("<t:1700000000:R>", "14 November 2023 22:13 UTC"),
        ("<t:0:d>", "1970-01-01"),
    ],
)
def test_timestamps(text: str, shown: str) -> None:
    out = content_of(text)
    assert f">{shown}</time>" in out
    if text != "<t:0:d>":
        assert 'datetime="2023-11-14T22:13:20Z"' in out
        assert 'title="Tuesday, 14 November 2023 22:13:20 UTC"' in out


@pytest.mark.parametrize("text", ["<t:99999999999999>", "<t:1700000000:X>", "<t:abc>"])
def test_invalid_timestamps_stay_text(text: str) -> None:
    assert content_of(text) == html.escape(text)


# --------------------------------------------------------------------------------------------------
# Header, messages, layout


def test_header() -> None:
    doc = inert(render(msg("hi")))
    text = doc.visible
    assert doc.title == "Ticket #0042 · report-0042 · Blocky Realms"
    for expected in (
        "Blocky Realms",
        "report-0042",
        "Ticket #0042",
        "Alice (111)",
        "Button “Report a player”",
        "2023-11-14 22:13:20 UTC",
        "2023-11-15 01:18:20 UTC",
        "open for 3 h 5 min",
        "Closed byBob",
        "ReasonResolved",
        "Messages1",
    ):
        assert expected in text, expected
    assert CONTENT_HIDDEN_WARNING not in text


def test_header_api_and_still_open() -> None:
    header = replace(
        HEADER, source="api", button_label=None, closed_at=None, closed_by=None, close_reason=None
    )
    text = inert(render(header=header)).visible
    assert "SourceAPI" in text
    assert "Closedstill open" in text
    assert "Closed by" not in text
    assert "No messages." in text


def test_header_closed_without_reason() -> None:
    text = inert(render(header=replace(HEADER, close_reason=None, closed_by=None))).visible
    assert "Reasonno reason given" in text
    assert "Closed byunknown" in text


def test_content_not_visible_warning() -> None:
    header = replace(HEADER, content_visible=False)
    embed = TranscriptEmbed("Welcome", None, None)
    doc = inert(render(msg(""), msg("", id=2, author=BOB, embeds=(embed,)), header=header))
    assert "Members' messages were not visible to the bot" in doc.visible
    assert "Message Content intent disabled" in doc.visible
    assert '<div class="warning" role="note">' in render(header=header)
    assert doc.visible.count("(message text not visible)") == 1  # the embed-only one has none


def test_edited_messages_are_marked() -> None:
    out = render(msg("first", edited_at=T0 + 100), msg("second", id=2, author=BOB))
    inert(out)
    assert out.count("(edited)") == 1
    assert (
        '<span class="edited" title="Edited 2023-11-14 22:15:00 UTC">(edited)</span></div>' in out
    )
    embed_only = render(msg("", edited_at=T0 + 100, embeds=(TranscriptEmbed("t", None, None),)))
    assert "(edited)" in embed_only


def test_embeds() -> None:
    embed = TranscriptEmbed(
        title="Report a player",
        description="Thanks **a lot**\n<@111>",
        colour=0x5865F2,
        fields=(TranscriptEmbedField("Who?", "Griefer_99"), TranscriptEmbedField("Why?", "TNT")),
    )
    out = render(msg("", author=BOT, embeds=(embed, TranscriptEmbed(None, "plain", None))))
    doc = inert(out)
    assert 'style="border-left-color:#5865f2"' in out
    assert 'style="border-left-color:#1e1f22"' in out  # no colour
    assert '<div class="embed-title">Report a player</div>' in out
    assert "Thanks <strong>a lot</strong>\n<span" in out
    assert '<div class="embed-field-name">Who?</div>' in out
    assert '<div class="embed-field-value">Griefer_99</div>' in out
    assert '<span class="badge">BOT</span>' in out
    assert "(no text content)" not in doc.visible


def test_consecutive_messages_are_grouped() -> None:
    messages = [
        msg("one", id=1, at=T0),
        msg("two", id=2, at=T0 + 60),  # grouped
        msg("three", id=3, at=T0 + 60 + 7 * 60),  # too late: new group
        msg("four", id=4, author=BOB, at=T0 + 500),  # other author
        msg("five", id=5, author=BOB, at=T0 + 86_400),  # next day
    ]
    out = render(*messages)
    inert(out)
    starts = re.findall(r'<article class="msg start" id="m-(\d+)"', out)
    assert starts == ["1", "3", "4", "5"]
    assert '<article class="msg" id="m-2"' in out
    assert out.count('<div class="avatar"') == 4
    assert out.count('<div class="divider">') == 2
    assert "15 November 2023" in out


def test_three_hundred_messages() -> None:
    authors = [ALICE, BOB, BOT, TranscriptAuthor(444, "Eve", None)]
    lines = [
        "plain text",
        "**bold** and *it* with <@111> and <#777>",
        "```py\nfor i in range(3):\n    print(i)\n```",
        "> quote\nreply https://example.com/x_y",
        "||spoiler|| <t:1700000000:R> <:pog:1>",
    ]
    messages = [
        msg(
            lines[i % len(lines)] + f" #{i}",
            id=i + 1,
            author=authors[(i // 3) % len(authors)],
            at=T0 + i * 97,
            edited_at=T0 + i * 97 + 5 if i % 11 == 0 else None,
            attachments=(TranscriptAttachment(f"f{i}.txt", "https://cdn.example/f", i),)
            if i % 13 == 0
            else (),
        )
        for i in range(300)
    ]
    out = render(*messages)
    inert(out)
    assert out.count("<article ") == 300
    assert "#299" in out
    assert "Messages300" in Doc(out).visible


def test_no_external_requests() -> None:
    everything = msg(
        "https://example.com/x <https://a.example> [l](https://b.example)",
        author=TranscriptAuthor(1, "A", "https://cdn.example/avatar.png"),
        embeds=(TranscriptEmbed("t", "https://c.example", 1, (TranscriptEmbedField("n", "v"),)),),
        attachments=(TranscriptAttachment("a.png", "https://cdn.example/a.png", 1),),
    )
    out = render(everything)
    inert(out)
    for needle in ("<link", "<img", "@import", "url(", "<iframe", "<object"):
        assert needle not in out.lower(), needle
    assert re.findall(r"src=\"[^\"]*\"", out) == ['src="assets/time.js"']  # nothing was saved
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self'; script-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'\">" in out
    )
    assert out.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">')


def test_output_is_deterministic() -> None:
    messages = [msg("**x** <t:1700000000:R>", id=i, at=T0 + i) for i in range(5)]
    assert render(*messages) == render(*messages)


def test_pre_wrap_keeps_line_breaks() -> None:
    out = render(msg("a\nb"))
    assert ".content{white-space:pre-wrap" in out
    assert '<div class="content">a\nb</div>' in out


# --------------------------------------------------------------------------------------------------
# Helpers and the sample script


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (1023, "1023 bytes"),
        (1024, "1.0 KB"),
        (1536, "1.5 KB"),
        (2_483_114, "2.4 MB"),
        (500 * 1024 * 1024, "500 MB"),
        (3 * 1024**3, "3.0 GB"),
        (-5, "0 bytes"),
    ],
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_safe_url() -> None:
    assert safe_url("https://a.example/x") == "https://a.example/x"
    assert safe_url("HTTP://A.example") == "HTTP://A.example"
    for bad in ("javascript:alert(1)", "https://", "mailto:a@b", "https://a b", "https://[::1"):
        assert safe_url(bad) is None, bad


def test_format_utc() -> None:
    assert format_utc(T0) == "2023-11-14 22:13:20 UTC"
    assert format_utc(float("nan")) == "nan"


def test_avatar_colour_is_stable() -> None:
    assert avatar_colour(111) == avatar_colour(111)
    assert re.fullmatch(r"#[0-9a-f]{6}", avatar_colour(2**63 - 1))


def test_sample_script_writes_a_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests import sample_transcript

    out = tmp_path / "deep" / "sample.html"
    sample_transcript.main([str(out)])
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    doc = inert(text)
    assert "Who are you reporting?" in doc.visible
    assert "(edited)" in doc.visible
    assert "base_after_tnt.png" in doc.visible


# --------------------------------------------------------------------------------------------------
# Discord's newer markdown and message kinds, each with hostile input


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Big", '<h3 class="md">Big</h3>'),
        ("## Middle", '<h4 class="md">Middle</h4>'),
        ("### Small **bold**", '<h5 class="md">Small <strong>bold</strong></h5>'),
        ("#### not a heading", "#### not a heading"),
        ("#no space", "#no space"),
        ("a # b", "a # b"),
        ("-# quiet words", '<small class="subtext">quiet words</small>'),
        ("- one\n- two", "<ul><li>one</li><li>two</li></ul>"),
        ("* one\n* two\nafter", "<ul><li>one</li><li>two</li></ul>after"),
        ("1. first\n2. second", "<ol><li>first</li><li>second</li></ol>"),
        ("3. third\n4. fourth", '<ol start="3"><li>third</li><li>fourth</li></ol>'),
        ("- a\n  - nested\n- b", "<ul><li>a<ul><li>nested</li></ul></li><li>b</li></ul>"),
        ("> # quoted heading", '<blockquote><h3 class="md">quoted heading</h3></blockquote>'),
        ("-not a list", "-not a list"),
        ("[masked **link**](https://a.example/x)", ">masked <strong>link</strong></a>"),
    ],
)
def test_discord_blocks(text: str, expected: str) -> None:
    assert expected in content_of(text)


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize(
    "template",
    [
        "# {p}",
        "## {p} **{p}**",
        "-# {p}",
        "- {p}\n  - {p}\n1. {p}",
        "3. {p}",
        "> - {p}",
        "[{p}](https://a.example/{p})",
        "<:{p}:123>",
        "<t:{p}:R>",
    ],
)
def test_hostile_text_in_new_blocks_is_text(template: str, payload: str) -> None:
    text = template.format(p=payload)
    out = render(msg(text))
    inert(out)
    assert payload not in out


def test_deep_lists_stop_nesting_and_stay_well_formed() -> None:
    text = "\n".join(" " * (2 * i) + f"- level {i}" for i in range(30))
    out = render(msg(text))
    inert(out)
    assert out.count("<ul>") == 4  # nesting is bounded; deeper items join the last list
    for text in ("- " * 500, "# " * 500, "-# " * 500, "1. " * 500, ("- a\n" * 300)):
        inert(render(msg(text)))


SAVED = SavedFile("assets/files/1-0-shot.png", image=True)


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_reply_forward_sticker_and_system_text_is_text(payload: str) -> None:
    hostile = TranscriptAuthor(999, payload, None)
    messages = [
        msg(payload, id=1, author=hostile),
        msg(
            "answer",
            id=2,
            author=BOB,
            reply=TranscriptReply(1, hostile, f"# {payload}\nsecond line"),
        ),
        msg("", id=3, author=BOB, reply=TranscriptReply(None, None, "")),
        msg(
            "",
            id=4,
            forwarded=TranscriptForward(
                f"**{payload}**",
                T0,
                (TranscriptEmbed(payload, payload, None),),
                (TranscriptAttachment(payload, "https://cdn.example/f", 1),),
            ),
            stickers=(payload,),
        ),
        msg(payload, id=5, author=hostile, type=6),
        msg(payload, id=6, author=hostile, type=4),
        msg("", id=7, author=hostile, type=1, target=payload),
        msg("", id=8, author=hostile, type=7),
    ]
    out = render(*messages)
    doc = inert(out)
    assert payload not in out
    text = doc.visible
    assert "Original message was deleted" in text
    assert "↱ Forwarded" in text
    assert f"Sticker: {payload}" in text
    assert f"{payload} pinned a message to this channel." in text
    assert f"{payload} changed the channel name: {payload}" in text
    assert f"{payload} added {payload} to the thread." in text
    assert f"{payload} joined the server." in text
    assert 'href="#m-1"' in out  # the reply points at the message it answers
    assert "second line" not in text  # only the quoted line


def test_saved_files_are_shown_from_the_folder_and_nowhere_else() -> None:
    attachments = (
        TranscriptAttachment('"><img src=x>.png', "https://cdn.example/a.png", 5, saved=SAVED),
        TranscriptAttachment(
            "report.pdf",
            "https://cdn.example/r.pdf",
            7,
            saved=SavedFile("assets/files/1-1-r.pdf", False),
        ),
        TranscriptAttachment(
            "escape.png", "https://cdn.example/e", 1, saved=SavedFile("../../etc/passwd", True)
        ),
        TranscriptAttachment(
            "abs.png", "https://cdn.example/e", 1, saved=SavedFile("/etc/passwd", True)
        ),
        TranscriptAttachment(
            "big.zip", "https://cdn.example/big.zip", 9, not_saved="over the limit"
        ),
    )
    author = TranscriptAuthor(1, "A", None, avatar=SavedFile("assets/avatars/1.png", True))
    emoji = {5: SavedFile("assets/emoji/5.png", True), 6: SavedFile("https://evil.example/x", True)}
    out = render_transcript(
        HEADER,
        [msg("hi <:pog:5> <:bad:6> <a:gone:7>", author=author, attachments=attachments)],
        NAMES,
        emoji,
    )
    doc = inert(out)
    srcs = [attrs["src"] for tag, attrs in doc.tags if tag == "img"]
    assert srcs == [
        "assets/avatars/1.png",
        "assets/emoji/5.png",
        "assets/files/1-0-shot.png",
    ]
    hrefs = [attrs["href"] for tag, attrs in doc.tags if tag == "a"]
    assert "assets/files/1-1-r.pdf" in hrefs
    assert "https://cdn.example/e" in hrefs  # a path that could leave the folder: a link only
    assert "https://cdn.example/big.zip" in hrefs
    assert "not saved: over the limit" in doc.visible
    assert ":bad:" in doc.visible
    assert ":gone:" in doc.visible
    assert 'alt="&quot;&gt;&lt;img src=x&gt;.png"' in out


def test_header_states_duration_and_first_staff_reply() -> None:
    out = render(
        msg("hello", id=1, author=ALICE, at=T0 + 60),
        msg("bot here", id=2, author=BOT, at=T0 + 61),
        msg("<b>Bob</b>", id=3, author=BOB, at=T0 + 12 * 60),
        msg("later", id=4, author=BOB, at=T0 + 20 * 60),
    )
    text = inert(out).visible
    assert "open for 3 h 5 min" in text
    assert "First staff reply2023-11-14 22:25:20 UTC by Bob (12 min after opening)" in text
    still = render(
        msg("hello"),
        header=replace(HEADER, closed_at=None, closed_by=None, close_reason=None, made_at=T0 + 90),
    )
    assert "still open (open for 1 min so far)" in inert(still).visible
    assert "First staff replynone" in inert(still).visible


def test_times_carry_their_style_for_the_local_script() -> None:
    out = render(msg("<t:1700000000:R> <t:1700000000:d>"))
    assert 'data-f="R">14 November 2023 22:13 UTC</time>' in out
    assert 'data-f="d">2023-11-14</time>' in out
    assert 'data-f="s">2023-11-14 22:13:20 UTC</time>' in out  # the header
    assert '<span class="zone">times in UTC</span>' in out


def test_a_renderer_fed_one_message_at_a_time_gives_the_same_page() -> None:
    messages = [msg(f"m{i}", id=i, author=(ALICE, BOB)[i % 2], at=T0 + i * 30) for i in range(50)]
    renderer = TranscriptRenderer(HEADER, NAMES)
    body = [renderer.message(m) for m in messages]
    assert renderer.head() + "".join(body) + renderer.tail() == render(*messages)


def test_custom_emoji_are_found_once_each() -> None:
    assert custom_emoji("<:a:1> <a:b:2> <:a:1> `<:c:3>` <:bad name:4>") == [
        (1, False),
        (2, True),
        (3, False),
    ]
