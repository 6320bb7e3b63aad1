"""The emulator speaks Discord's wire well enough for unmodified hikari, and enforces its rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hikari
import pytest
import pytest_asyncio

from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import SandboxWorld
from bot.sandbox.state import GUILD_CATEGORY
from bot.sandbox.validation import is_emoji_name
from tests.conftest import LoopErrors, wait_until_cached

pytestmark = pytest.mark.asyncio

INTENTS = hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.GUILD_MEMBERS


@pytest_asyncio.fixture
async def bot(
    emulator: DiscordEmulator, world: SandboxWorld, loop_errors: LoopErrors
) -> AsyncIterator[hikari.GatewayBot]:
    gateway_bot = hikari.GatewayBot(
        emulator.token,
        rest_url=emulator.rest_url,
        banner=None,
        logs=None,
        intents=INTENTS | hikari.Intents.MESSAGE_CONTENT,
        max_retries=0,
    )
    gateway_bot.subscribe(hikari.ExceptionEvent, loop_errors.on_exception)
    await gateway_bot.start(check_for_updates=False)
    await wait_until_cached(gateway_bot, world.guild.id)
    yield gateway_bot
    await gateway_bot.close()


async def test_ready_and_guild_create_fill_hikaris_cache(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    guild = bot.cache.get_guild(world.guild.id)
    assert guild is not None
    assert guild.name == "Rimpllee Sandbox"
    assert bot.get_me() is not None
    assert bot.get_me().id == emulator.state.bot.id  # type: ignore[union-attr]
    # Without the presences intent members come by chunks, which hikari asks for itself.
    async with asyncio.timeout(5):
        while len(bot.cache.get_members_view_for_guild(world.guild.id)) < len(world.guild.members):
            await asyncio.sleep(0.01)
    members = bot.cache.get_members_view_for_guild(world.guild.id)
    assert set(members) == set(world.guild.members)
    roles = bot.cache.get_roles_view_for_guild(world.guild.id)
    assert world.support_role_id in roles
    channels = bot.cache.get_guild_channels_view_for_guild(world.guild.id)
    assert isinstance(channels[hikari.Snowflake(world.category_id)], hikari.GuildCategory)
    assert isinstance(channels[hikari.Snowflake(world.panel_channel_id)], hikari.GuildTextChannel)


async def test_channel_lifecycle_is_dispatched_and_recorded(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    created = asyncio.Event()

    async def on_create(event: hikari.GuildChannelCreateEvent) -> None:
        created.set()

    bot.subscribe(hikari.GuildChannelCreateEvent, on_create)
    overwrite = hikari.PermissionOverwrite(
        id=world.guild.id,
        type=hikari.PermissionOverwriteType.ROLE,
        deny=hikari.Permissions.VIEW_CHANNEL,
    )
    me = hikari.PermissionOverwrite(
        id=emulator.state.bot.id,
        type=hikari.PermissionOverwriteType.MEMBER,
        allow=hikari.Permissions.VIEW_CHANNEL | hikari.Permissions.SEND_MESSAGES,
    )
    channel = await bot.rest.create_guild_text_channel(
        world.guild.id,
        "Ticket 0001",
        category=world.category_id,
        permission_overwrites=[overwrite, me],
    )
    assert channel.name == "ticket-0001"  # Discord lowercases and dashes text channel names
    assert channel.parent_id == world.category_id
    assert (
        channel.permission_overwrites[hikari.Snowflake(world.guild.id)].deny
        == hikari.Permissions.VIEW_CHANNEL
    )
    await asyncio.wait_for(created.wait(), 5)
    message = await bot.rest.create_message(
        channel, "hello", embed=hikari.Embed(title="Answers", description="x")
    )
    assert message.content == "hello"
    assert message.embeds[0].title == "Answers"
    history = [m async for m in bot.rest.fetch_messages(channel)]
    assert [m.id for m in history] == [message.id]
    await bot.rest.delete_channel(channel)
    assert channel.id not in emulator.state.channels
    assert [(r.method, r.route) for r in emulator.calls(route="/guilds/{guild_id}/channels")] == [
        ("POST", "/guilds/{guild_id}/channels")
    ]


async def test_message_history_pages_like_discord(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    channel = emulator.state.channels[hikari.Snowflake(world.panel_channel_id)]
    sent = [emulator.state.add_message(channel, world.members[0], f"m{i}").id for i in range(250)]
    oldest_first = [m.id async for m in bot.rest.fetch_messages(channel.id, after=0)]
    newest_first = [m.id async for m in bot.rest.fetch_messages(channel.id)]
    assert oldest_first == sent
    assert newest_first == sent[::-1]
    pages = emulator.calls("GET", "/channels/{channel_id}/messages")
    assert len(pages) >= 6  # 100 per page, both directions


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (403, 50013, hikari.ForbiddenError),
        (404, 10003, hikari.NotFoundError),
        (400, 50035, hikari.BadRequestError),
        (500, 0, hikari.InternalServerError),
    ],
)
async def test_injected_fault_reaches_hikari_as_its_error(
    bot: hikari.GatewayBot,
    world: SandboxWorld,
    emulator: DiscordEmulator,
    status: int,
    code: int,
    error: type[hikari.HTTPResponseError],
) -> None:
    emulator.inject_fault("POST", "/guilds/{guild_id}/channels", status, code=code)
    with pytest.raises(error) as caught:
        await bot.rest.create_guild_text_channel(world.guild.id, "x")
    assert caught.value.status == status
    assert getattr(caught.value, "code", 0) == code
    # The fault is spent: the next call goes through.
    await bot.rest.create_guild_text_channel(world.guild.id, "y")


async def test_injected_429_is_retried_by_hikari_after_retry_after(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    emulator.inject_fault(
        "POST", "/channels/{channel_id}/messages", 429, message="rate limited", retry_after=0.05
    )
    await bot.rest.create_message(world.panel_channel_id, "after the wait")
    statuses = [r.status for r in emulator.calls("POST", "/channels/{channel_id}/messages")]
    assert statuses == [429, 200]


async def test_wrong_token_is_401(emulator: DiscordEmulator, world: SandboxWorld) -> None:
    rest = hikari.RESTApp(url=emulator.rest_url)
    await rest.start()
    try:
        async with rest.acquire("bm90IGEgYm90.x.y", hikari.TokenType.BOT) as client:
            with pytest.raises(hikari.UnauthorizedError):
                await client.fetch_my_user()
    finally:
        await rest.close()


async def test_discords_limits_are_enforced(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    guild = world.guild.id
    with pytest.raises(hikari.BadRequestError) as too_long:
        await bot.rest.create_guild_text_channel(guild, "x" * 101)
    assert too_long.value.code == 50035
    assert "name" in (too_long.value.errors or {})
    with pytest.raises(hikari.BadRequestError) as content:
        await bot.rest.create_message(world.panel_channel_id, "x" * 2001)
    assert "content" in (content.value.errors or {})
    embed = hikari.Embed(title="t", description="d" * 4097)
    with pytest.raises(hikari.BadRequestError):
        await bot.rest.create_message(world.panel_channel_id, embed=embed)
    big = hikari.Embed(title="t")
    for i in range(26):
        big.add_field(f"f{i}", "v")
    with pytest.raises(hikari.BadRequestError):
        await bot.rest.create_message(world.panel_channel_id, embed=big)
    row = bot.rest.build_message_action_row()
    row.add_interactive_button(hikari.ButtonStyle.PRIMARY, "x" * 101, label="open")
    with pytest.raises(hikari.BadRequestError) as custom_id:
        await bot.rest.create_message(world.panel_channel_id, "panel", component=row)
    assert "components" in (custom_id.value.errors or {})
    with pytest.raises(hikari.BadRequestError) as empty:
        await bot.rest.create_message(world.panel_channel_id, "")
    assert empty.value.code == 50006


async def test_category_and_server_channel_caps(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    state = emulator.state
    category = state.add_channel(world.guild, "Full", type=GUILD_CATEGORY)
    for i in range(50):
        state.add_channel(world.guild, f"t{i}", parent_id=category.id)
    with pytest.raises(hikari.BadRequestError) as full:
        await bot.rest.create_guild_text_channel(world.guild.id, "one-more", category=category.id)
    assert "parent_id" in (full.value.errors or {})
    assert "50" in str(full.value.errors)
    while len(world.guild.channels) < 500:
        state.add_channel(world.guild, "filler")
    with pytest.raises(hikari.BadRequestError) as capped:
        await bot.rest.create_guild_text_channel(world.guild.id, "501st")
    assert capped.value.code == 30013


async def test_missing_manage_channels_is_50013(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    category = emulator.state.channels[hikari.Snowflake(world.category_id)]
    bot_role = next(r for r in world.guild.roles.values() if r.name == "Rimpllee")
    from bot.sandbox.state import MANAGE_CHANNELS, OVERWRITE_ROLE, Overwrite

    category.overwrites[bot_role.id] = Overwrite(bot_role.id, OVERWRITE_ROLE, 0, MANAGE_CHANNELS)
    with pytest.raises(hikari.ForbiddenError) as denied:
        await bot.rest.create_guild_text_channel(world.guild.id, "t", category=world.category_id)
    assert denied.value.code == 50013


async def test_button_click_reaches_the_bot_and_is_answered_once(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    panel = await bot.rest.create_message(world.panel_channel_id, "panel")
    seen: list[hikari.ComponentInteraction] = []

    async def on_interaction(event: hikari.InteractionCreateEvent) -> None:
        assert isinstance(event.interaction, hikari.ComponentInteraction)
        seen.append(event.interaction)
        await event.interaction.create_initial_response(
            hikari.ResponseType.MESSAGE_CREATE, "hi", flags=hikari.MessageFlag.EPHEMERAL
        )
        with pytest.raises(hikari.BadRequestError) as twice:
            await event.interaction.create_initial_response(
                hikari.ResponseType.MESSAGE_CREATE, "again"
            )
        assert twice.value.code == 40060

    bot.subscribe(hikari.InteractionCreateEvent, on_interaction)
    member = world.members[0]
    record = await emulator.click_button(
        world.guild.id, member.id, world.panel_channel_id, panel.id, "rmp:open:btn_x"
    )
    response = await record.wait_response()
    assert response["data"]["content"] == "hi"
    await asyncio.sleep(0.05)
    assert seen[0].custom_id == "rmp:open:btn_x"
    assert seen[0].user.id == member.id
    assert seen[0].member is not None
    # Ephemeral answers never land in the channel.
    assert all(m.content != "hi" for m in emulator.state.messages[world.panel_channel_id].values())


async def test_late_answer_is_unknown_interaction(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    panel = await bot.rest.create_message(world.panel_channel_id, "panel")
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def on_interaction(event: hikari.InteractionCreateEvent) -> None:
        record = next(iter(emulator.interactions_by_token.values()))
        record.created_at -= 3.5  # as if the bot took 3.5 s
        assert isinstance(event.interaction, hikari.ComponentInteraction)
        try:
            await event.interaction.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, "x")
        except hikari.NotFoundError as exc:
            outcome.set_result(exc)
        else:
            outcome.set_result(None)

    bot.subscribe(hikari.InteractionCreateEvent, on_interaction)
    await emulator.click_button(
        world.guild.id, world.members[0].id, world.panel_channel_id, panel.id, "late"
    )
    error = await asyncio.wait_for(outcome, 5)
    assert isinstance(error, hikari.NotFoundError)
    assert error.code == 10062


async def test_modal_round_trip_and_modal_limits(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    panel = await bot.rest.create_message(world.panel_channel_id, "panel")
    errors: list[int] = []
    submitted: list[hikari.ModalInteraction] = []

    async def on_interaction(event: hikari.InteractionCreateEvent) -> None:
        interaction = event.interaction
        if isinstance(interaction, hikari.ComponentInteraction):
            if interaction.custom_id == "too-long":
                modal = bot.rest.build_modal_action_row().add_text_input("q", "L" * 46)
                try:
                    await interaction.create_modal_response("Title", "m", components=[modal])
                except hikari.BadRequestError as exc:
                    errors.append(exc.code)
                return
            row = bot.rest.build_modal_action_row().add_text_input("q1", "What happened?")
            await interaction.create_modal_response("Intake", "rmp:modal:btn_x", components=[row])
        elif isinstance(interaction, hikari.ModalInteraction):
            submitted.append(interaction)
            await interaction.create_initial_response(
                hikari.ResponseType.DEFERRED_MESSAGE_CREATE, flags=hikari.MessageFlag.EPHEMERAL
            )
            await interaction.edit_initial_response("opened")

    bot.subscribe(hikari.InteractionCreateEvent, on_interaction)
    user = world.members[1].id
    click = await emulator.click_button(
        world.guild.id, user, world.panel_channel_id, panel.id, "open"
    )
    modal = await click.wait_response()
    assert modal["type"] == 9
    assert modal["data"]["custom_id"] == "rmp:modal:btn_x"
    submit = await emulator.submit_modal(
        world.guild.id, user, world.panel_channel_id, "rmp:modal:btn_x", {"q1": "It broke"}
    )
    assert (await submit.wait_response())["type"] == 5
    followups = await submit.wait_followup()
    assert followups[0]["content"] == "opened"
    assert submitted[0].components[0].components[0].value == "It broke"
    await emulator.click_button(world.guild.id, user, world.panel_channel_id, panel.id, "too-long")
    async with asyncio.timeout(5):
        while not errors:
            await asyncio.sleep(0.01)
    assert errors == [50035]


@pytest.mark.parametrize("compress", ["zlib-stream", "zstd-stream"])
async def test_gateway_transport_compression_on_the_wire(
    emulator: DiscordEmulator, world: SandboxWorld, compress: str
) -> None:
    """hikari picks zstd-stream when backports.zstd is installed (it is, for the tests) and
    zlib-stream otherwise: the emulator speaks both, one compressor per connection."""
    import json
    import zlib

    import aiohttp
    from backports import zstd

    decompress = (
        zlib.decompressobj().decompress
        if compress == "zlib-stream"
        else zstd.ZstdDecompressor().decompress
    )
    url = f"{emulator.gateway_url}?v=10&encoding=json&compress={compress}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        hello = await ws.receive()
        assert hello.type == aiohttp.WSMsgType.BINARY
        assert json.loads(decompress(hello.data))["op"] == 10
        await ws.send_str(json.dumps({"op": 1, "d": None}))
        ack = await ws.receive()
        assert json.loads(decompress(ack.data)) == {"op": 11}


async def test_slash_command_options_come_with_resolved_users_channels_and_roles(
    bot: hikari.GatewayBot, world: SandboxWorld, emulator: DiscordEmulator
) -> None:
    emulator.state.commands[None] = [
        {"id": "1", "name": "probe", "type": 1, "description": "", "options": []}
    ]
    seen: list[hikari.CommandInteraction] = []

    async def on_interaction(event: hikari.InteractionCreateEvent) -> None:
        assert isinstance(event.interaction, hikari.CommandInteraction)
        seen.append(event.interaction)
        await event.interaction.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, "ok")

    bot.subscribe(hikari.InteractionCreateEvent, on_interaction)
    options = [
        {"name": "who", "type": 6, "value": str(world.members[0].id)},
        {"name": "where", "type": 7, "value": str(world.category_id)},
        {"name": "team", "type": 8, "value": str(world.support_role_id)},
    ]
    record = await emulator.run_command(
        world.guild.id, world.admin.id, world.panel_channel_id, "probe", options
    )
    await record.wait_response()
    resolved = seen[0].resolved
    assert resolved is not None
    assert world.members[0].id in resolved.members
    assert (
        resolved.channels[hikari.Snowflake(world.category_id)].type
        == hikari.ChannelType.GUILD_CATEGORY
    )
    assert resolved.roles[hikari.Snowflake(world.support_role_id)].name == "Support"


async def test_a_button_emoji_that_is_not_an_emoji_is_refused(
    bot: hikari.GatewayBot, world: SandboxWorld
) -> None:
    row = bot.rest.build_message_action_row()
    row.add_interactive_button(hikari.ButtonStyle.PRIMARY, "x", label="open", emoji="é")
    with pytest.raises(hikari.BadRequestError) as refused:
        await bot.rest.create_message(world.panel_channel_id, "panel", component=row)
    assert "components" in (refused.value.errors or {})
    fine = bot.rest.build_message_action_row()
    fine.add_interactive_button(hikari.ButtonStyle.PRIMARY, "y", label="open", emoji="🎫")
    await bot.rest.create_message(world.panel_channel_id, "panel", component=fine)


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ("🎫", True),
        ("❤️", True),  # with the emoji presentation selector
        ("👍🏽", True),  # with a skin tone
        ("👨\u200d👩\u200d👧", True),  # a ZWJ sequence
        ("1️⃣", True),  # a keycap
        ("🇫🇷", True),  # a flag
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", True),  # a tag flag
        ("", False),
        ("a", False),
        ("é", False),
        ("⌀", False),  # a symbol (So) that is no emoji
        ("🎫🎫", False),  # two emoji are no emoji name
        ("🎫 ", False),
    ],
)
async def test_the_emulator_has_its_own_emoji_rule(name: str, accepted: bool) -> None:
    """Discord's check, written for the emulator, not the bot's rule borrowed (see test_layers)."""
    assert is_emoji_name(name) is accepted
