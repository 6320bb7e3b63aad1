"""The dashboard: a third thin door beside `api/` and `discord/`, served by the same aiohttp app.

Views parse a form, ask the core services (the same ones the slash commands and the command line
use) and render a page; who may do what is `bot.core.access`'s decision, asked on every request.
"""
