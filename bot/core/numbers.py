"""Numbers the bot uses in more than one place, each defined here once.

The emulator (bot/sandbox/) keeps its own copy of Discord's limits: it stands for Discord.
"""

from __future__ import annotations

# Discord IDs (snowflakes) are unsigned 64-bit integers; 0 is never one.
SNOWFLAKE_MAX = 2**64 - 1
# Discord's upload limit for a bot's message on a server without boosts.
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
# A blacklist reason, as `/blacklist add` and `rimpllee blacklist add` take it.
BLACKLIST_REASON_MAX = 200
# The most open tickets one member may have: per button (max_open) and per server (/settings).
OPEN_PER_MEMBER_MAX = 25


def ticket_number(number: int) -> str:
    """A ticket's number as shown everywhere, channel names and file names included: ``0042``."""
    return f"{number:04d}"


def ticket_tag(number: int) -> str:
    """A ticket's number in text: ``#0042``."""
    return f"#{ticket_number(number)}"
