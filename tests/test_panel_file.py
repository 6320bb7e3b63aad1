"""Panels as code: the TOML format (pure functions) and `rimpllee panel export|import` (processes).

The command tests run the real `rimpllee` process on real SQLite files; the parser tests check
that every field round-trips and that every kind of mistake is one line naming file:line and key.
"""

from __future__ import annotations

import dataclasses
import random
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core.errors import AdminError
from bot.core.models import Button, Panel, Question
from bot.core.panel_file import (
    BUTTON_KEYS,
    PANEL_KEYS,
    QUESTION_KEYS,
    PanelFileError,
    dump_panels,
    load_panels,
    read_panel_file,
    toml_string,
)
from bot.core.panels import validate_panel
from bot.sandbox.runner import SandboxWorld, demo_panel, seed
from bot.sandbox.state import DiscordState
from bot.store.database import Database
from bot.store.panels import SqlitePanelStore
from tests.conftest import run_cli

GUILD = 111111111111111111
OTHER_GUILD = 222222222222222222
SOURCE = "panels.toml"

# Text that has broken TOML writers: quotes, backslashes, TOML's own syntax, every kind of line
# break, control characters, emoji sequences (with a zero-width joiner), right-to-left text.
TRICKY_TEXTS = [
    'He said "hi" and left',
    "C:\\tickets\\new\\ and a trailing backslash \\",
    "line one\nline two\n\nline four",
    "\nstarts with a newline",
    "ends with a newline\n",
    "\n",
    "windows\r\nline ends\r\n",
    "triple \"\"\" quotes \"\"\" and ''' literal ones '''",
    'ends in quotes""',
    'ends in a quote\n"',
    "tab\there, bell \x07, nul \x00, del \x7f, next line \x85, separator \u2028 \u2029",
    "[[panels]]\nid = 'pnl_fake'\ntitle = \"not a key\"",
    "# not a comment",
    "👨‍👩‍👧 family, 🛟, ✅, flags 🇫🇷",
    "שלום עולם and Ünïcödé",
    "",
]


def full_panel(guild_id: int = GUILD) -> Panel:
    """Every field set, most of them away from their defaults."""
    return Panel(
        panel_id="pnl_full",
        guild_id=guild_id,
        title="Everything",
        description="All the fields",
        colour=0x00FF7F,
        channel_id=333333333333333333,
        message_id=444444444444444444,
        buttons=(
            Button(
                button_id="btn_second_in_id_order_b",
                panel_id="pnl_full",
                label="First",
                position=0,
                emoji="<:ticket:123456789012345678>",
                style="secondary",
                category_id=555555555555555555,
                name_pattern="help-{number}",
                max_open=25,
                welcome_text="Welcome!\nWe'll be with you shortly.",
                overflow_category_ids=(777777777777777777, 666666666666666666),
                inactivity_warn_hours=0.5,
                inactivity_close_hours=24.0,
                support_role_ids=(666666666666666661, 666666666666666662),
                questions=(
                    Question(
                        question_id="qst_zzz",
                        label="Zeta first",
                        placeholder="anything",
                        style="paragraph",
                        required=False,
                        min_length=0,
                        max_length=1024,
                    ),
                    Question(question_id="qst_aaa", label="Alpha second"),
                ),
            ),
            Button(button_id="btn_a", panel_id="pnl_full", label="Second", position=1),
        ),
    )


@pytest.fixture
def world() -> SandboxWorld:
    return seed(DiscordState(), member_count=2)


def load(text: str, guild_id: int = GUILD) -> list[Panel]:
    return load_panels(text, source=SOURCE, guild_id=guild_id)


def error_of(text: str) -> str:
    with pytest.raises(PanelFileError) as caught:
        load(text)
    message = str(caught.value)
    assert "\n" not in message
    assert isinstance(caught.value, AdminError), "the CLI prints AdminErrors as one line"
    return message


# -- round trips --------------------------------------------------------------------------------


def test_the_sandbox_demo_panel_round_trips_exactly(world: SandboxWorld) -> None:
    panel = demo_panel(world)
    text = dump_panels([panel])
    assert load(text, world.guild.id) == [panel]
    assert dump_panels(load(text, world.guild.id)) == text
    assert 'id = "pnl_demo"' in text
    assert f'category_id = "{world.category_id}"' in text, "snowflakes are written as strings"


def test_every_field_round_trips_with_ids_and_order_kept() -> None:
    panel = full_panel()
    minimal = Panel(panel_id="pnl_min", guild_id=GUILD, title="Only a title")
    text = dump_panels([panel, minimal])
    loaded = load(text)
    assert loaded == [panel, minimal]
    first = loaded[0]
    assert [b.button_id for b in first.buttons] == ["btn_second_in_id_order_b", "btn_a"]
    assert [b.position for b in first.buttons] == [0, 1]
    assert [q.question_id for q in first.buttons[0].questions] == ["qst_zzz", "qst_aaa"]
    assert (first.channel_id, first.message_id) == (333333333333333333, 444444444444444444)
    assert first.buttons[0].questions[0].min_length == 0, "0 is a value, not 'absent'"
    assert 'colour = "#00FF7F"' in text


def test_the_format_has_a_key_for_every_model_field() -> None:
    """A field added to the models must be added to the file too, or export would drop it."""
    implied = {"guild_id"}  # from --guild; panel_id/position of a button: from where it is
    assert {f.name for f in dataclasses.fields(Panel)} - implied == {
        "panel_id" if k == "id" else k for k in PANEL_KEYS
    }
    assert {f.name for f in dataclasses.fields(Button)} - {"panel_id", "position"} == {
        "button_id" if k == "id" else k for k in BUTTON_KEYS
    }
    assert {f.name for f in dataclasses.fields(Question)} == {
        "question_id" if k == "id" else k for k in QUESTION_KEYS
    }


@pytest.mark.parametrize("text", TRICKY_TEXTS, ids=range(len(TRICKY_TEXTS)))
def test_unicode_quotes_newlines_and_control_characters_round_trip(text: str) -> None:
    base = full_panel()
    button = dataclasses.replace(
        base.buttons[0],
        welcome_text=text,
        name_pattern=text if text.strip() else "x",
        questions=(dataclasses.replace(base.buttons[0].questions[0], placeholder=text),),
    )
    panel = dataclasses.replace(base, description=text, buttons=(button,))
    dumped = dump_panels([panel])
    assert load(dumped) == [panel]
    assert dump_panels(load(dumped)) == dumped


def test_toml_string_reads_back_exactly_for_random_text() -> None:
    rng = random.Random(1234)
    alphabet = [chr(c) for c in range(0x2FF)] + list("\u2028\u2029\u200d\ufeff🛟🇫🇷\U0010fffd")
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert tomllib.loads(f"a = {toml_string(text)}") == {"a": text}, repr(text)


def test_multi_line_text_is_written_readably() -> None:
    assert toml_string("a\nb") == '"""\na\nb"""'
    assert toml_string('say "hi"') == '"say \\"hi\\""'
    assert toml_string("🛟") == '"🛟"', "non-ASCII is written as is, not as surrogate escapes"


def test_no_panels_round_trips_as_an_explicit_empty_list() -> None:
    text = dump_panels([])
    assert "panels = []" in text
    assert load(text) == []


def test_role_ids_are_a_set_written_sorted_and_integers_are_accepted() -> None:
    [panel] = load(
        '[[panels]]\ntitle = "t"\n[[panels.buttons]]\nlabel = "b"\n'
        'support_role_ids = ["30", 20, "10"]\ncategory_id = 5\n'
    )
    assert panel.buttons[0].support_role_ids == (10, 20, 30)
    assert panel.buttons[0].category_id == 5
    assert 'support_role_ids = ["10", "20", "30"]' in dump_panels([panel])


# -- hand-written files -------------------------------------------------------------------------

HAND_WRITTEN = """\
# no ids anywhere
[[panels]]
title = "Support"
colour = 0x5865F2

[[panels.buttons]]
label = "Help"
emoji = "🛟"

[[panels.buttons.questions]]
label = "What?"

[[panels.buttons.questions]]
label = "Order number?"
style = "short"
required = false

[[panels.buttons]]
label = "Other"
style = "success"
welcome_text = '''
literal \\ text, kept as is'''
"""


def test_a_hand_written_file_without_ids_gets_new_ones_and_the_models_defaults() -> None:
    result = read_panel_file(HAND_WRITTEN, source=SOURCE, guild_id=GUILD)
    [panel] = result.panels
    assert re.fullmatch(r"pnl_[a-z0-9]{8}", panel.panel_id)
    assert all(re.fullmatch(r"btn_[a-z0-9]{8}", b.button_id) for b in panel.buttons)
    questions = panel.buttons[0].questions
    assert all(re.fullmatch(r"qst_[a-z0-9]{8}", q.question_id) for q in questions)
    all_ids = [panel.panel_id, *(b.button_id for b in panel.buttons)]
    all_ids += [q.question_id for q in questions]
    assert sorted(result.new_ids) == sorted(all_ids), "every made-up id is reported"
    assert panel.guild_id == GUILD
    assert panel.colour == 0x5865F2
    help_button, other = panel.buttons
    assert (help_button.panel_id, help_button.position, other.position) == (panel.panel_id, 0, 1)
    assert help_button.style == "primary"
    assert help_button.name_pattern == "ticket-{number}"
    assert help_button.max_open == 1
    assert help_button.support_role_ids == ()
    assert [q.label for q in questions] == ["What?", "Order number?"]
    assert questions[0].style == "short"
    assert questions[0].required is True
    assert questions[1].required is False
    assert other.welcome_text == "literal \\ text, kept as is"
    # Once exported, the ids are in the file and stay put.
    exported = dump_panels(result.panels)
    again = read_panel_file(exported, source=SOURCE, guild_id=GUILD)
    assert again.panels == result.panels
    assert again.new_ids == ()


def test_the_example_file_loads() -> None:
    example = Path(__file__).parent.parent / "panels.example.toml"
    panels = load(example.read_text(encoding="utf-8"))
    assert [p.title for p in panels] == ["Need a hand?", "Applications"]
    assert panels[0].buttons[0].welcome_text is not None
    assert "\n" in panels[0].buttons[0].welcome_text
    for panel in panels:
        validate_panel(panel)


# -- errors: one line, file:line, key path ------------------------------------------------------

P = '[[panels]]\ntitle = "t"\n'  # lines 1-2
B = '[[panels.buttons]]\nlabel = "b"\n'  # then lines 3-4
Q = '[[panels.buttons.questions]]\nlabel = "q"\n'  # then lines 5-6


def test_a_discord_id_may_be_as_large_as_discord_allows() -> None:
    # Snowflakes are unsigned 64-bit: the same bound as the API's and the CLI's.
    (panel,) = load(P + B + f"category_id = '{2**64 - 1}'\n")
    assert panel.buttons[0].category_id == 2**64 - 1


ERRORS: list[tuple[str, str, str]] = [
    # (file, expected start, expected fragment)
    ("[[panels]]\ntitle = 'unterminated\n", "panels.toml:2: invalid TOML", ""),
    ("[[panels]\n", "panels.toml:1: invalid TOML", ""),
    ("[[panels]]\ntitle =", "panels.toml:2: invalid TOML", ""),
    ("", "panels.toml: no panels", "panels = []"),
    ("panel = []\n", "panels.toml:1: panel: unknown key", "known keys here: panels"),
    (P + "titel = 'x'\n", "panels.toml:3: panels[0].titel: unknown key", "title"),
    (P + B + "lable = 'x'\n", "panels.toml:5: panels[0].buttons[0].lable: unknown key", "label"),
    (
        P + B + Q + "'odd key' = 1\n",
        'panels.toml:7: panels[0].buttons[0].questions[0]."odd key"',
        "unknown key",
    ),
    (P + P + B + "label2 = 'x'\n", "panels.toml:7: panels[1].buttons[0].label2: unknown key", ""),
    (
        P + P + B + "lable = 'x'\n",
        "panels.toml:7: panels[1].buttons[0].lable: unknown key",
        "; did you mean 'label'?",
    ),
    (P + B + Q + "plaseholder = 'x'\n", "panels.toml:7:", "did you mean 'placeholder'?"),
    ("[[panels]]\ntitle = 1\n", "panels.toml:2: panels[0].title: expected string, got integer", ""),
    (
        P + B + "max_open = '2'\n",
        "panels.toml:5: panels[0].buttons[0].max_open",
        "expected integer, got string",
    ),
    (
        P + B + "max_open = true\n",
        "panels.toml:5: panels[0].buttons[0].max_open",
        "expected integer, got boolean",
    ),
    (
        P + B + Q + "required = 'yes'\n",
        "panels.toml:7: panels[0].buttons[0].questions[0].required",
        "true or false",
    ),
    (
        P + B + "style = 'blurple'\n",
        "panels.toml:5: panels[0].buttons[0].style",
        "one of primary, secondary",
    ),
    (
        P + B + Q + "style = 'long'\n",
        "panels.toml:7: panels[0].buttons[0].questions[0].style",
        "short, paragraph",
    ),
    (
        P + B + "overflow_category_ids = ['1', '1']\n",
        "panels.toml:5: panels[0].buttons[0].overflow_category_ids[1]",
        "listed twice",
    ),
    (
        P + B + "inactivity_warn_hours = '2'\n",
        "panels.toml:5: panels[0].buttons[0].inactivity_warn_hours",
        "expected a number of hours, got string",
    ),
    (
        P + B + "inactivity_close_hours = -1\n",
        "panels.toml:5: panels[0].buttons[0].inactivity_close_hours",
        "0 to 8760 hours",
    ),
    (
        P + B + "overflow_category_ids = ['1']\n",
        "panels.toml:3: panel panels[0], button 1",
        "overflow categories need the button's own category first",
    ),
    (
        P + B + "category_id = 'general'\n",
        "panels.toml:5: panels[0].buttons[0].category_id",
        "Discord ID",
    ),
    (
        P + B + "category_id = 0\n",
        "panels.toml:5: panels[0].buttons[0].category_id",
        "not a Discord ID",
    ),
    (
        P + B + f"category_id = '{2**64}'\n",
        "panels.toml:5: panels[0].buttons[0].category_id",
        f"{2**64} is not a Discord ID",
    ),
    (P + B + "category_id = 1.5\n", "panels.toml:5: panels[0].buttons[0].category_id", "got float"),
    (
        P + B + "support_role_ids = '1'\n",
        "panels.toml:5: panels[0].buttons[0].support_role_ids",
        "array",
    ),
    (
        P + B + "support_role_ids = [\n  '1',\n  'x',\n]\n",
        "panels.toml:5: panels[0].buttons[0].support_role_ids[1]",
        "'x'",
    ),
    (
        P + B + "support_role_ids = ['1', 1]\n",
        "panels.toml:5: panels[0].buttons[0].support_role_ids[1]",
        "listed twice",
    ),
    (
        "[panels]\ntitle = 't'\n",
        "panels.toml:1: panels: expected an array of tables, got table",
        "",
    ),
    (
        P + "buttons = ['a']\n",
        "panels.toml:3: panels[0].buttons: expected an array of tables",
        "string",
    ),
    (
        "[[panels]]\ndescription = 'no title'\n",
        "panels.toml:1: panels[0]: missing required key 'title'",
        "",
    ),
    (
        P + "[[panels.buttons]]\nemoji = '🛟'\n",
        "panels.toml:3: panels[0].buttons[0]: missing required key 'label'",
        "",
    ),
    (
        P + B + "[[panels.buttons.questions]]\n",
        "panels.toml:5: panels[0].buttons[0].questions[0]: missing required key 'label'",
        "",
    ),
    (P + "id = 'panel_x'\n", "panels.toml:3: panels[0].id: 'panel_x' is not a valid id", "pnl_"),
    (P + "id = 'pnl_'\n", "panels.toml:3: panels[0].id: 'pnl_' is not a valid id", ""),
    (
        P + B + "id = 'pnl_x'\n",
        "panels.toml:5: panels[0].buttons[0].id: 'pnl_x' is not a valid id",
        "btn_",
    ),
    (
        P + B + Q + "id = 'qst_has space'\n",
        "panels.toml:7: panels[0].buttons[0].questions[0].id",
        "not a valid id",
    ),
    (P + B + "id = 'btn_" + "x" * 65 + "'\n", "panels.toml:5: panels[0].buttons[0].id", "1-64"),
    (
        P + "id = 'pnl_a'\n" + P + "id = 'pnl_a'\n",
        "panels.toml:6: panels[1].id: 'pnl_a' is already the id of panels[0]",
        "",
    ),
    (
        P + B + "id = 'btn_a'\n" + P + B + "id = 'btn_a'\n",
        "panels.toml:10: panels[1].buttons[0].id",
        "already the id of panels[0].buttons[0]",
    ),
    (
        P + B + Q + "id = 'qst_a'\n" + B + Q + "id = 'qst_a'\n",
        "panels.toml:12: panels[0].buttons[1].questions[0].id",
        "already the id of panels[0].buttons[0].questions[0]",
    ),
    (P + "colour = 'blurple'\n", "panels.toml:3: panels[0].colour: 'blurple' is not a colour", ""),
    (P + "colour = 0x1000000\n", "panels.toml:3: panels[0].colour", "not a colour"),
    (P + "colour = true\n", "panels.toml:3: panels[0].colour", "got boolean"),
    (
        P + "channel_id = '1'\n",
        "panels.toml:1: panels[0]: channel_id and message_id go together",
        "",
    ),
    # Inside inline tables there is no line of its own: the enclosing key's line is named.
    (
        P + "buttons = [{ label = 'a' }, { label = 2 }]\n",
        "panels.toml:3: panels[0].buttons[1].label: expected string",
        "",
    ),
    # A multi-line string full of TOML-looking text does not confuse the line numbers.
    (
        P + "description = '''\n[[panels]]\ntitle = 1\n'''\n" + B + "max_open = 'x'\n",
        "panels.toml:9: panels[0].buttons[0].max_open",
        "",
    ),
    (
        P + 'description = """\n\\"""\n[[panels]]\n"""\n' + B + "nope = 1\n",
        "panels.toml:9: panels[0].buttons[0].nope",
        "",
    ),
]


@pytest.mark.parametrize(("text", "start", "fragment"), ERRORS, ids=range(len(ERRORS)))
def test_each_mistake_is_one_line_naming_file_line_and_key(
    text: str, start: str, fragment: str
) -> None:
    message = error_of(text)
    assert message.startswith(start), message
    assert fragment in message, message


def test_discord_limits_are_refused_with_validate_panels_message_at_the_button() -> None:
    six = "".join(f'[[panels.buttons.questions]]\nlabel = "q{i}"\n' for i in range(6))
    text = P + "id = 'pnl_a'\n" + B + "id = 'btn_a'\n" + six
    assert error_of(text) == (
        "panels.toml:4: panel pnl_a, button 1 (btn_a): a button can ask at most 5 questions "
        "(Discord's form limit)"
    )
    second = f"[[panels.buttons]]\nid = 'btn_b'\nlabel = '{'x' * 81}'\n"
    long_label = P + "id = 'pnl_a'\n" + B + "id = 'btn_ok'\n" + second
    assert error_of(long_label) == (
        "panels.toml:7: panel pnl_a, button 2 (btn_b): the label is 81 characters; "
        "Discord allows at most 80"
    )


def test_a_limit_on_a_question_is_placed_at_the_question() -> None:
    text = P + "id = 'pnl_a'\n" + B + "id = 'btn_a'\n" + Q + Q.replace('"q"', '"' + "x" * 46 + '"')
    assert error_of(text) == (
        "panels.toml:9: panel pnl_a, button 1 (btn_a), question 2: the question label is 46 "
        "characters; Discord allows at most 45"
    )


def test_a_limit_message_names_key_paths_not_made_up_ids() -> None:
    message = error_of(P + B + "max_open = 26\n")
    assert message == (
        "panels.toml:3: panel panels[0], button 1 (panels[0].buttons[0]): "
        "max_open must be between 1 and 25"
    )


def test_a_button_or_question_cannot_move_to_another_parent() -> None:
    current = [full_panel(), Panel(panel_id="pnl_other", guild_id=GUILD, title="o")]
    moved_button = dump_panels(
        [
            dataclasses.replace(current[0], buttons=current[0].buttons[:1]),
            dataclasses.replace(current[1], buttons=(current[0].buttons[1],)),
        ]
    )
    with pytest.raises(PanelFileError, match=r"^panels\.toml:\d+: panels\[1\]\.buttons\[0\]: "):
        read_panel_file(moved_button, source=SOURCE, guild_id=GUILD).check_ids_stay(current)
    first, second = current[0].buttons
    moved_question = dataclasses.replace(
        current[0],
        buttons=(
            dataclasses.replace(first, questions=first.questions[:1]),
            dataclasses.replace(second, questions=first.questions[1:]),
        ),
    )
    with pytest.raises(PanelFileError, match="question qst_aaa belongs to button btn_second"):
        read_panel_file(
            dump_panels([moved_question]), source=SOURCE, guild_id=GUILD
        ).check_ids_stay(current)
    # Unchanged, reordered or new ids are fine.
    same = read_panel_file(dump_panels(current[::-1]), source=SOURCE, guild_id=GUILD)
    same.check_ids_stay(current)


# -- the commands -------------------------------------------------------------------------------


async def panel_cli(*args: str, db: Path) -> tuple[int, str, str]:
    return await run_cli("panel", *args, "--database", str(db), cwd=db.parent)


async def export(db: Path, guild: int = GUILD) -> str:
    code, out, err = await panel_cli("export", "--guild", str(guild), db=db)
    assert code == 0, err
    return out


async def import_file(db: Path, text: str, guild: int = GUILD) -> tuple[int, str, str]:
    path = db.parent / "import.toml"
    path.write_text(text, encoding="utf-8")
    return await panel_cli("import", "--guild", str(guild), path.name, db=db)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    return lines[0]


async def stored(db_path: Path, guild: int = GUILD) -> list[Panel]:
    db = await Database.open(db_path)
    try:
        return await SqlitePanelStore(db).list_panels(guild)
    finally:
        await db.close()


@pytest_asyncio.fixture
async def seeded(tmp_path: Path, world: SandboxWorld) -> AsyncIterator[Path]:
    """A database with the demo panel, a full (posted) panel and another server's panel."""
    path = tmp_path / "rimpllee.db"
    db = await Database.open(path)
    store = SqlitePanelStore(db)
    await store.save(dataclasses.replace(demo_panel(world), guild_id=GUILD), 1000.0)
    await store.save(full_panel(), 1001.0)
    await store.save(Panel(panel_id="pnl_theirs", guild_id=OTHER_GUILD, title="Theirs"), 1002.0)
    await db.close()
    yield path


@pytest.mark.asyncio
async def test_export_import_export_is_byte_identical_and_the_store_unchanged(
    seeded: Path,
) -> None:
    before = await stored(seeded)
    assert [p.panel_id for p in before] == ["pnl_demo", "pnl_full"]
    first = await export(seeded)
    assert load(first) == before, "the export says exactly what the store holds"

    code, out, err = await import_file(seeded, first)
    assert code == 0, err
    assert out == "imported 2 panels (4 buttons, 3 questions)\n"
    assert "new ids" not in err
    assert "posted" not in err, "an unchanged posted panel needs no re-posting"

    assert await stored(seeded) == before
    assert await export(seeded) == first
    assert [p.panel_id for p in await stored(seeded, OTHER_GUILD)] == ["pnl_theirs"]


@pytest.mark.asyncio
async def test_export_to_a_file(seeded: Path) -> None:
    code, out, err = await panel_cli(
        "export", "--guild", str(GUILD), "--output", "out.toml", db=seeded
    )
    assert code == 0, err
    assert out == f"exported 2 panels (4 buttons, 3 questions) of server {GUILD} to out.toml\n"
    assert (seeded.parent / "out.toml").read_bytes() == (await export(seeded)).encode()


@pytest.mark.asyncio
async def test_import_replaces_the_panels_and_reports_the_removed_ones(seeded: Path) -> None:
    [_, full] = await stored(seeded)
    edited = dataclasses.replace(
        full,
        title="Renamed",
        buttons=(full.buttons[1], dataclasses.replace(full.buttons[0], position=1)),
    )
    edited = dataclasses.replace(
        edited,
        buttons=tuple(dataclasses.replace(b, position=i) for i, b in enumerate(edited.buttons)),
    )
    code, out, err = await import_file(seeded, dump_panels([edited]))
    assert code == 0, err
    assert out == (
        "imported 1 panel (2 buttons, 2 questions); removed 1 panel not in the file: pnl_demo\n"
    )
    assert "panel pnl_full is posted in channel 333333333333333333" in err
    assert await stored(seeded) == [edited]
    assert [b.button_id for b in (await stored(seeded))[0].buttons] == [
        "btn_a",
        "btn_second_in_id_order_b",
    ]


@pytest.mark.asyncio
async def test_removing_a_posted_panel_says_its_message_is_left_in_discord(seeded: Path) -> None:
    [demo, _] = await stored(seeded)
    code, out, err = await import_file(seeded, dump_panels([demo]))
    assert code == 0, err
    assert out.endswith("; removed 1 panel not in the file: pnl_full\n")
    assert "removed panel pnl_full was posted in channel 333333333333333333" in err
    assert await stored(seeded) == [demo]


@pytest.mark.asyncio
async def test_an_empty_panel_list_deletes_every_panel(seeded: Path) -> None:
    code, out, _ = await import_file(seeded, "panels = []\n")
    assert code == 0
    assert out == (
        "imported 0 panels (0 buttons, 0 questions); "
        "removed 2 panels not in the file: pnl_demo, pnl_full\n"
    )
    assert await stored(seeded) == []
    assert [p.panel_id for p in await stored(seeded, OTHER_GUILD)] == ["pnl_theirs"]


@pytest.mark.asyncio
async def test_a_panel_can_lose_all_its_buttons(seeded: Path) -> None:
    [demo, full] = await stored(seeded)
    bare = dataclasses.replace(full, buttons=())
    code, out, err = await import_file(seeded, dump_panels([demo, bare]))
    assert code == 0, err
    assert out == "imported 2 panels (2 buttons, 1 question)\n"
    assert await stored(seeded) == [demo, bare]


@pytest.mark.asyncio
async def test_a_hand_written_file_gets_new_ids_which_export_then_keeps(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    code, out, err = await import_file(db, HAND_WRITTEN)
    assert code == 0, err
    assert out == "imported 1 panel (2 buttons, 2 questions)\n"
    [panel] = await stored(db)
    assert f"new ids: {panel.panel_id}, {panel.buttons[0].button_id}" in err
    assert "rimpllee panel export" in err
    exported = await export(db)
    assert f'id = "{panel.panel_id}"' in exported
    code, _, err = await import_file(db, exported)
    assert code == 0, err
    assert "new ids" not in err
    assert await stored(db) == [panel]


BROKEN_FILES = {
    "syntax": (P + "title = 'again'\n", "rimpllee: import.toml:3: invalid TOML"),
    "type": (
        P + B + "max_open = 'one'\n",
        "rimpllee: import.toml:5: panels[0].buttons[0].max_open",
    ),
    "limits": (
        "[[panels]]\nid = 'pnl_demo'\ntitle = 't'\n[[panels.buttons]]\nid = 'btn_x'\n"
        + f"label = '{'x' * 81}'\n",
        "rimpllee: import.toml:4: panel pnl_demo, button 1 (btn_x): the label is 81 characters",
    ),
    "six questions": (
        P + B + "".join(f"[[panels.buttons.questions]]\nlabel = 'q{i}'\n" for i in range(6)),
        "rimpllee: import.toml:3: panel panels[0], button 1 (panels[0].buttons[0]): "
        "a button can ask at most 5 questions",
    ),
    "another server's id": (
        "[[panels]]\nid = 'pnl_theirs'\ntitle = 'mine now'\n",
        "rimpllee: import.toml: panel id 'pnl_theirs' is already used by another server",
    ),
    "moved button": (
        "[[panels]]\nid = 'pnl_demo'\ntitle = 't'\n[[panels.buttons]]\nid = 'btn_a'\nlabel = 'x'\n",
        "rimpllee: import.toml:4: panels[0].buttons[0]: button btn_a is on panel pnl_full; "
        "it cannot move to panel pnl_demo",
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", BROKEN_FILES)
async def test_a_broken_file_imports_nothing(seeded: Path, case: str) -> None:
    text, expected = BROKEN_FILES[case]
    before = await export(seeded)
    code, out, err = await import_file(seeded, text)
    assert code == 1
    assert out == ""
    assert one_line(err).startswith(expected), err
    assert await export(seeded) == before
    assert [p.panel_id for p in await stored(seeded, OTHER_GUILD)] == ["pnl_theirs"]


@pytest.mark.asyncio
async def test_a_broken_file_does_not_create_the_database(tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    code, _, err = await import_file(db, "[[panels]]\n")
    assert code == 1
    assert one_line(err) == "rimpllee: import.toml:1: panels[0]: missing required key 'title'"
    assert not db.exists()
    code, _, err = await panel_cli("import", "--guild", str(GUILD), "missing.toml", db=db)
    assert code == 1
    assert one_line(err) == "rimpllee: missing.toml: file not found"
    assert not db.exists()


@pytest.mark.asyncio
async def test_export_of_a_missing_database_or_to_an_unwritable_path_is_one_line(
    seeded: Path,
) -> None:
    code, _, err = await panel_cli("export", "--guild", str(GUILD), db=seeded.parent / "no.db")
    assert code == 1
    assert one_line(err).startswith("rimpllee: ")
    assert "does not exist" in err
    code, _, err = await panel_cli(
        "export", "--guild", str(GUILD), "--output", "no/such/dir/out.toml", db=seeded
    )
    assert code == 1
    assert (
        one_line(err) == "rimpllee: no/such/dir/out.toml: cannot write (No such file or directory)"
    )


@pytest.mark.asyncio
async def test_import_help_says_that_missing_panels_are_deleted(tmp_path: Path) -> None:
    code, out, _ = await run_cli("panel", "import", "--help", cwd=tmp_path)
    assert code == 0
    assert "panels not in the file are DELETED" in " ".join(out.split())
