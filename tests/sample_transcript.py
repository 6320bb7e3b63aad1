"""Render a realistic sample ticket transcript, to look at in a browser.

Not a test (pytest does not collect it): `python -m tests.sample_transcript [OUT]` writes
`data/transcripts/sample.html` by default (creating the folders) and prints the path.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.core.transcripts import (
    Names,
    TranscriptAttachment,
    TranscriptAuthor,
    TranscriptEmbed,
    TranscriptEmbedField,
    TranscriptHeader,
    TranscriptMessage,
    TranscriptReply,
    render_transcript,
)

DEFAULT_OUT = Path("data/transcripts/sample.html")

OPENED_AT = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

BOT = TranscriptAuthor(1_100_000_000_000_000_001, "Rimpllee", None, bot=True)
MEMBER = TranscriptAuthor(
    912_345_678_901_234_567, "Mira", "https://cdn.discordapp.com/avatars/912345678901234567/a.png"
)
STAFF = TranscriptAuthor(823_456_789_012_345_678, "Oskar (support)", None)
SUPPORT_ROLE = 1_200_000_000_000_000_002
RULES_CHANNEL = 1_200_000_000_000_000_003

NAMES = Names(
    users={MEMBER.id: MEMBER.name, STAFF.id: STAFF.name, BOT.id: BOT.name},
    roles={SUPPORT_ROLE: "Support"},
    channels={RULES_CHANNEL: "rules"},
)

HEADER = TranscriptHeader(
    server_name="Blocky Realms",
    ticket_name="report-0042",
    ticket_number=42,
    opener=MEMBER.name,
    opener_id=MEMBER.id,
    source="button",
    button_label="Report a player",
    opened_at=OPENED_AT,
    closed_at=OPENED_AT + 2 * 3600 + 17 * 60,
    closed_by=STAFF.name,
    close_reason="Player banned for 7 days; evidence kept.",
    content_visible=True,
)


def _at(minutes: float) -> float:
    return OPENED_AT + minutes * 60


MESSAGES = (
    TranscriptMessage(
        id=1,
        author=BOT,
        content=f"<@{MEMBER.id}> <@&{SUPPORT_ROLE}>",
        created_at=_at(0),
        edited_at=None,
        embeds=(
            TranscriptEmbed(
                title="Report a player",
                description=(
                    "Thanks for your report! A member of **Support** will be with you shortly.\n"
                    f"Please read <#{RULES_CHANNEL}> while you wait."
                ),
                colour=0x5865F2,
                fields=(
                    TranscriptEmbedField("Who are you reporting?", "Griefer_99"),
                    TranscriptEmbedField(
                        "What happened?",
                        "They blew up my base with TNT at spawn, twice.\n"
                        "Coordinates: `x=120 z=-45`",
                    ),
                    TranscriptEmbedField("When?", "<t:1699995600:f>"),
                ),
            ),
        ),
    ),
    TranscriptMessage(
        id=2,
        author=MEMBER,
        content="Hi! Here's the screenshot of what's left of it :(",
        created_at=_at(1),
        edited_at=None,
        attachments=(
            TranscriptAttachment(
                "base_after_tnt.png",
                "https://cdn.discordapp.com/attachments/1/2/base_after_tnt.png",
                2_483_114,
            ),
        ),
    ),
    TranscriptMessage(
        id=3,
        author=MEMBER,
        content="Also the chat log, they were *bragging* about it:",
        created_at=_at(2),
        edited_at=_at(3.5),
    ),
    TranscriptMessage(
        id=4,
        author=MEMBER,
        content="```log\n[22:01:13] <Griefer_99> lol **boom**\n[22:01:20] <Mira> why??\n```",
        created_at=_at(2.5),
        edited_at=None,
    ),
    TranscriptMessage(
        id=5,
        author=STAFF,
        content=(
            f"Thanks <@{MEMBER.id}>, looking into it now.\n"
            "> They blew up my base with TNT at spawn, twice.\n"
            "Spawn is protected, so that __should not__ be possible. "
            "Checking the block log: https://wiki.example.org/Block_logging_(CoreProtect)"
        ),
        created_at=_at(34),
        edited_at=None,
    ),
    TranscriptMessage(
        id=6,
        author=STAFF,
        content=(
            "Confirmed in the logs. They used a ~~bug~~ *feature* of the old plugin. "
            "Ban reason for the record: ||repeated griefing at spawn||"
        ),
        created_at=_at(120),
        edited_at=None,
    ),
    TranscriptMessage(
        id=7,
        author=MEMBER,
        content="Thank you so much!! 🎉 <:pog:123456789012345678>",
        created_at=_at(124),
        edited_at=None,
    ),
    TranscriptMessage(
        id=9,
        author=STAFF,
        content="",
        created_at=_at(125),
        edited_at=None,
        type=6,  # a pin
    ),
    TranscriptMessage(
        id=10,
        author=STAFF,
        content=(
            "## Summary\n- griefing at spawn, twice\n- ban: 7 days\n"
            "-# evidence kept in this transcript"
        ),
        created_at=_at(126),
        edited_at=None,
        reply=TranscriptReply(7, MEMBER, "Thank you so much!! 🎉"),
    ),
    TranscriptMessage(
        id=8,
        author=BOT,
        content="",
        created_at=_at(137),
        edited_at=None,
        embeds=(
            TranscriptEmbed(
                title="Ticket closed",
                description=(
                    f"Closed by <@{STAFF.id}> at <t:1700008220:F>.\n"
                    "**Reason:** Player banned for 7 days; evidence kept."
                ),
                colour=0xED4245,
            ),
        ),
    ),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_transcript(HEADER, MESSAGES, NAMES), encoding="utf-8")
    print(out)


if __name__ == "__main__":
    main()
