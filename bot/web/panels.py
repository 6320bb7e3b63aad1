"""The panels editor: panels, their buttons and intake questions, posting, and the panels file.

Every change goes through `PanelService` (the slash commands' service): the same validation and
the same messages, shown next to the field at fault. A posted panel is refreshed after each
change by the service. The preview is rendered here from what the form holds, and kept up to date
as the admin types by one small script (`static/preview.js`); without it the preview follows on
save.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.core.access import MemberDirectory, NamedId
from bot.core.errors import AdminError, TicketError
from bot.core.models import Button, Panel, Question
from bot.core.panel_io import PanelFiles
from bot.core.panels import BUTTON_STYLES, QUESTION_STYLES, PanelService, parse_colour
from bot.web.security import Redirect
from bot.web.views import Admin, _admin, render

_NOTICES = {
    "created": "Panel created. Add a button, then post it to a channel.",
    "saved": "Saved.",
    "posted": "Posted: the panel is in the channel with its buttons.",
    "refreshed": "The posted panel shows the panel as it is now.",
    "deleted": "Panel deleted.",
    "button": "Button added: fill in the rest, then save.",
    "removed": "Removed.",
    "moved": "Moved.",
    "question": "Question added.",
}

# Which field a PanelService message is about: the first phrase found in it names the field.
_FIELD_PHRASES = (
    ("question label", "label"),
    ("the placeholder", "placeholder"),
    ("min_length", "min_length"),
    ("max_length", "max_length"),
    ("two questions have the same label", "label"),
    ("questions (discord's form limit)", "label"),
    ("the title", "title"),
    ("the description", "description"),
    ("colour", "colour"),
    ("the label", "label"),
    ("is not an emoji", "emoji"),
    ("style must be", "style"),
    ("channel name pattern", "name_pattern"),
    ("max_open", "max_open"),
    ("welcome text", "welcome_text"),
    ("private threads", "thread_channel_id"),
    ("category", "category_id"),
    ("role", "support_role_ids"),
)


def field_at_fault(message: str, fields: tuple[str, ...]) -> str | None:
    lowered = message.casefold()
    for phrase, field in _FIELD_PHRASES:
        if phrase in lowered and field in fields:
            return field
    return None


@dataclass(frozen=True, slots=True)
class PanelPagesServices:
    panels: PanelService
    files: PanelFiles
    directory: MemberDirectory


PANEL_PAGES: web.AppKey[PanelPagesServices] = web.AppKey("panel_pages")


class _Refused(Exception):
    """A form the page itself refuses (not a number, not from the list), before the service."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _services(request: web.Request) -> PanelPagesServices:
    return request.app[PANEL_PAGES]


def _base(admin: Admin) -> str:
    return f"/servers/{admin.server.guild_id}/panels"


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _optional(form: Any, name: str) -> str | None:
    return _text(form, name) or None


def _number(form: Any, name: str, what: str) -> int | None:
    raw = _text(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _Refused(name, f"{what} must be a whole number") from None


def _one_of(form: Any, name: str, choices: list[NamedId], what: str) -> int | None:
    raw = _text(form, name)
    if not raw:
        return None
    if not raw.isdigit() or int(raw) not in {c.id for c in choices}:
        raise _Refused(name, f"pick a {what} from the list")
    return int(raw)


# -- what a form shows: the stored values, or what was just sent -------------------------------


def panel_values(panel: Panel | None) -> dict[str, str]:
    if panel is None:
        return {"title": "", "description": "", "colour": "#5865F2"}
    return {
        "title": panel.title,
        "description": panel.description or "",
        "colour": "" if panel.colour is None else f"#{panel.colour:06X}",
    }


def button_values(button: Button) -> dict[str, Any]:
    return {
        "label": button.label,
        "emoji": button.emoji or "",
        "style": button.style,
        "category_id": str(button.category_id or ""),
        "support_role_ids": [str(r) for r in button.support_role_ids],
        "name_pattern": button.name_pattern,
        "max_open": str(button.max_open),
        "welcome_text": button.welcome_text or "",
        "thread_channel_id": str(button.thread_channel_id or ""),
    }


def question_values(question: Question | None) -> dict[str, Any]:
    if question is None:
        return {
            "label": "",
            "placeholder": "",
            "style": "short",
            "required": True,
            "min_length": "",
            "max_length": "",
        }
    return {
        "label": question.label,
        "placeholder": question.placeholder or "",
        "style": question.style,
        "required": question.required,
        "min_length": "" if question.min_length is None else str(question.min_length),
        "max_length": "" if question.max_length is None else str(question.max_length),
    }


def _sent(form: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    for name, default in defaults.items():
        if isinstance(default, list):
            sent[name] = [str(v) for v in form.getall(name, [])]
        elif isinstance(default, bool):
            sent[name] = form.get(name) == "on"
        else:
            sent[name] = str(form.get(name) or "")
    return sent


def preview_colour(raw: str) -> str:
    """The embed bar's colour as the form says it, Discord's default grey when none."""
    try:
        return f"#{parse_colour(raw):06x}" if raw.strip() else "#1e1f22"
    except AdminError:
        return "#1e1f22"


# -- the panels list ---------------------------------------------------------------------------


async def _panels_page(
    request: web.Request,
    admin: Admin,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    import_text: str = "",
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    services = _services(request)
    channels = {c.id: c.name for c in services.directory.text_channels(admin.server.guild_id)}
    return render(
        request,
        "panels.html",
        {
            "server": admin.server,
            "tab": "panels",
            "panels": await services.panels.panels(admin.server.guild_id),
            "channels": channels,
            "values": values or panel_values(None),
            "errors": errors or {},
            "import_text": import_text,
            "notice": notice or _NOTICES.get(request.query.get("done", "")),
            "problem": problem,
            "colour": preview_colour((values or panel_values(None))["colour"]),
        },
        status,
    )


async def panels_page(request: web.Request) -> web.Response:
    return await _panels_page(request, _admin(request))


def _panel_fields(form: Any) -> dict[str, Any]:
    colour = _text(form, "colour")
    try:
        parsed = parse_colour(colour) if colour else None
    except AdminError as exc:
        raise _Refused("colour", str(exc)) from None
    return {
        "title": _text(form, "title"),
        "description": _optional(form, "description"),
        "colour": parsed,
    }


async def create_panel(request: web.Request) -> web.Response:
    admin = _admin(request)
    form = await request.post()
    try:
        panel = await _services(request).panels.create_panel(
            admin.server.guild_id, **_panel_fields(form)
        )
    except (_Refused, AdminError) as exc:
        return await _panels_page(
            request,
            admin,
            values=_sent(form, panel_values(None)),
            errors=_errors(exc, ("title", "description", "colour")),
            status=400,
        )
    raise Redirect(f"{_base(admin)}/{panel.panel_id}?done=created")


def _errors(exc: Exception, fields: tuple[str, ...]) -> dict[str, str]:
    """The message under the field it is about, or at the top of the form (`_form`)."""
    if isinstance(exc, _Refused):
        return {exc.field: str(exc)}
    field = field_at_fault(str(exc), fields)
    return {field or "_form": str(exc)}


async def export_panels(request: web.Request) -> web.Response:
    admin = _admin(request)
    text = await _services(request).files.export(admin.server.guild_id)
    name = f"panels-{admin.server.guild_id}.toml"
    return web.Response(
        text=text,
        content_type="application/toml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def import_panels(request: web.Request) -> web.Response:
    admin = _admin(request)
    form = await request.post()
    upload = form.get("file")
    source = "panels.toml"
    text = _text(form, "text")
    if isinstance(upload, web.FileField) and upload.filename:
        source = upload.filename
        try:
            text = upload.file.read().decode("utf-8")
        except UnicodeDecodeError:
            return await _panels_page(request, admin, problem=f"{source}: not UTF-8", status=400)
    if not text:
        return await _panels_page(
            request, admin, problem="Choose a panels file or paste one.", status=400
        )
    try:
        done = await _services(request).files.import_file(admin.server.guild_id, text, source)
    except TicketError as exc:
        return await _panels_page(request, admin, problem=str(exc), import_text=text, status=400)
    notice = f"Imported {len(done.panels)} panel(s)"
    if done.removed:
        notice += "; removed " + ", ".join(p.panel_id for p in done.removed)
    if done.new_ids:
        notice += "; export the file again to keep the new IDs: " + ", ".join(done.new_ids)
    return await _panels_page(request, admin, notice=notice + ".")


# -- one panel ---------------------------------------------------------------------------------


async def _panel(request: web.Request, admin: Admin) -> Panel:
    try:
        return await _services(request).panels.panel(
            admin.server.guild_id, request.match_info["panel_id"]
        )
    except AdminError:
        raise web.HTTPNotFound from None


async def _panel_page(
    request: web.Request,
    admin: Admin,
    panel: Panel,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    services = _services(request)
    guild_id = admin.server.guild_id
    values = values or panel_values(panel)
    channels = services.directory.text_channels(guild_id)
    return render(
        request,
        "panel.html",
        {
            "server": admin.server,
            "tab": "panels",
            "panel": panel,
            "base": f"{_base(admin)}/{panel.panel_id}",
            "values": values,
            "colour": preview_colour(values["colour"]),
            "errors": errors or {},
            "channels": channels,
            "posted_in": next((c.name for c in channels if c.id == panel.channel_id), None),
            "notice": _NOTICES.get(request.query.get("done", "")),
            "problem": problem,
        },
        status,
    )


async def panel_page(request: web.Request) -> web.Response:
    admin = _admin(request)
    return await _panel_page(request, admin, await _panel(request, admin))


async def edit_panel(request: web.Request) -> web.Response:
    admin = _admin(request)
    panel = await _panel(request, admin)
    form = await request.post()
    try:
        await _services(request).panels.edit_panel(
            admin.server.guild_id, panel.panel_id, **_panel_fields(form)
        )
    except (_Refused, AdminError) as exc:
        return await _panel_page(
            request,
            admin,
            panel,
            values=_sent(form, panel_values(panel)),
            errors=_errors(exc, ("title", "description", "colour")),
            status=400,
        )
    raise Redirect(f"{_base(admin)}/{panel.panel_id}?done=saved")


def _required(value: int | None, field: str, message: str) -> int:
    if value is None:
        raise _Refused(field, message)
    return value


async def _panel_action(
    request: web.Request, admin: Admin, panel: Panel, action: str, form: Any
) -> str:
    """Do it; where to go next."""
    service = _services(request).panels
    guild_id = admin.server.guild_id
    here = f"{_base(admin)}/{panel.panel_id}"
    if action == "post":
        channels = _services(request).directory.text_channels(guild_id)
        picked = _one_of(form, "channel_id", channels, "channel")
        channel = _required(picked, "channel_id", "pick a channel from the list")
        await service.post_panel(guild_id, panel.panel_id, channel)
        return here + "?done=posted"
    if action == "refresh":
        if panel.message_id is None:
            raise AdminError("this panel is not posted anywhere yet")
        await service.edit_panel(guild_id, panel.panel_id)
        return here + "?done=refreshed"
    if action == "delete":
        if form.get("confirm") != "on":
            raise _Refused("confirm", "tick the box to confirm")
        await service.delete_panel(guild_id, panel.panel_id)
        return _base(admin) + "?done=deleted"
    button = await service.add_button(guild_id, panel.panel_id, label=_text(form, "label"))
    return f"{here}/buttons/{button.button_id}?done=button"


async def panel_action(request: web.Request) -> web.Response:
    admin = _admin(request)
    panel = await _panel(request, admin)
    action = request.match_info["action"]
    try:
        location = await _panel_action(request, admin, panel, action, await request.post())
    except (_Refused, TicketError) as exc:
        errors = {f"{action}:{k}": v for k, v in _errors(exc, ("label",)).items()}
        return await _panel_page(request, admin, panel, errors=errors, status=400)
    raise Redirect(location)


# -- one button and its questions -------------------------------------------------------------


async def _button(request: web.Request, admin: Admin) -> tuple[Panel, Button]:
    try:
        panel, button = await _services(request).panels.button(
            admin.server.guild_id, request.match_info["button_id"]
        )
    except AdminError:
        raise web.HTTPNotFound from None
    if panel.panel_id != request.match_info["panel_id"]:
        raise web.HTTPNotFound
    return panel, button


async def _button_page(
    request: web.Request,
    admin: Admin,
    panel: Panel,
    button: Button,
    *,
    values: dict[str, Any] | None = None,
    question_forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    directory = _services(request).directory
    guild_id = admin.server.guild_id
    forms = {q.question_id: question_values(q) for q in button.questions}
    forms["new"] = question_values(None)
    forms.update(question_forms or {})
    return render(
        request,
        "button.html",
        {
            "server": admin.server,
            "tab": "panels",
            "panel": panel,
            "button": button,
            "base": f"{_base(admin)}/{panel.panel_id}/buttons/{button.button_id}",
            "panel_url": f"{_base(admin)}/{panel.panel_id}",
            "values": values or button_values(button),
            "questions": forms,
            "errors": errors or {},
            "styles": BUTTON_STYLES,
            "question_styles": QUESTION_STYLES,
            "categories": directory.categories(guild_id),
            "text_channels": directory.text_channels(guild_id),
            "roles": directory.roles(guild_id),
            "colour": preview_colour(panel_values(panel)["colour"]),
            "notice": _NOTICES.get(request.query.get("done", "")),
        },
        status,
    )


async def button_page(request: web.Request) -> web.Response:
    admin = _admin(request)
    panel, button = await _button(request, admin)
    return await _button_page(request, admin, panel, button)


_BUTTON_FIELDS = (
    "label",
    "emoji",
    "style",
    "category_id",
    "support_role_ids",
    "name_pattern",
    "max_open",
    "welcome_text",
    "thread_channel_id",
)


def _button_fields(form: Any, directory: MemberDirectory, guild_id: int) -> dict[str, Any]:
    roles = {r.id for r in directory.roles(guild_id)}
    picked = []
    for raw in form.getall("support_role_ids", []):
        if not str(raw).isdigit() or int(raw) not in roles:
            raise _Refused("support_role_ids", "pick the support roles from the list")
        picked.append(int(raw))
    max_open = _number(form, "max_open", "max_open")
    return {
        "label": _text(form, "label"),
        "emoji": _optional(form, "emoji"),
        "style": _text(form, "style") or "primary",
        "category_id": _one_of(form, "category_id", directory.categories(guild_id), "category"),
        "support_role_ids": tuple(picked),
        "name_pattern": _text(form, "name_pattern"),
        "max_open": 1 if max_open is None else max_open,
        "welcome_text": _optional(form, "welcome_text"),
        "thread_channel_id": _one_of(
            form, "thread_channel_id", directory.text_channels(guild_id), "channel"
        ),
    }


async def edit_button(request: web.Request) -> web.Response:
    admin = _admin(request)
    panel, button = await _button(request, admin)
    services = _services(request)
    form = await request.post()
    try:
        fields = _button_fields(form, services.directory, admin.server.guild_id)
        await services.panels.edit_button(admin.server.guild_id, button.button_id, **fields)
    except (_Refused, AdminError) as exc:
        return await _button_page(
            request,
            admin,
            panel,
            button,
            values=_sent(form, button_values(button)),
            errors=_errors(exc, _BUTTON_FIELDS),
            status=400,
        )
    raise Redirect(f"{_base(admin)}/{panel.panel_id}/buttons/{button.button_id}?done=saved")


async def button_action(request: web.Request) -> web.Response:
    admin = _admin(request)
    panel, button = await _button(request, admin)
    service = _services(request).panels
    guild_id = admin.server.guild_id
    action = request.match_info["action"]
    form = await request.post()
    try:
        if action == "remove":
            await service.remove_button(guild_id, button.button_id)
            raise Redirect(f"{_base(admin)}/{panel.panel_id}?done=removed")
        step = -1 if form.get("direction") == "up" else 1
        await service.move_button(guild_id, button.button_id, button.position + 1 + step)
    except AdminError as exc:
        return await _panel_page(
            request, admin, panel, errors={"buttons:_form": str(exc)}, status=400
        )
    raise Redirect(f"{_base(admin)}/{panel.panel_id}?done=moved")


_QUESTION_FIELDS = ("label", "placeholder", "style", "min_length", "max_length")


def _question_fields(form: Any) -> dict[str, Any]:
    return {
        "label": _text(form, "label"),
        "placeholder": _optional(form, "placeholder"),
        "style": _text(form, "style") or "short",
        "required": form.get("required") == "on",
        "min_length": _number(form, "min_length", "min_length"),
        "max_length": _number(form, "max_length", "max_length"),
    }


async def question_change(request: web.Request) -> web.Response:
    admin = _admin(request)
    panel, button = await _button(request, admin)
    service = _services(request).panels
    guild_id = admin.server.guild_id
    question_id = request.match_info.get("question_id", "new")
    action = request.match_info.get("action", "save")
    form = await request.post()
    if question_id != "new" and not any(q.question_id == question_id for q in button.questions):
        raise web.HTTPNotFound
    try:
        if action == "remove":
            await service.remove_question(guild_id, question_id)
            done = "removed"
        elif action == "move":
            index = [q.question_id for q in button.questions].index(question_id)
            step = -1 if form.get("direction") == "up" else 1
            await service.move_question(guild_id, question_id, index + 1 + step)
            done = "moved"
        elif question_id == "new":
            await service.add_question(guild_id, button.button_id, **_question_fields(form))
            done = "question"
        else:
            await service.edit_question(guild_id, question_id, **_question_fields(form))
            done = "saved"
    except (_Refused, AdminError) as exc:
        errors = {f"{question_id}:{k}": v for k, v in _errors(exc, _QUESTION_FIELDS).items()}
        sent = _sent(form, question_values(None))
        return await _button_page(
            request,
            admin,
            panel,
            button,
            question_forms={question_id: sent},
            errors=errors,
            status=400,
        )
    raise Redirect(
        f"{_base(admin)}/{panel.panel_id}/buttons/{button.button_id}?done={done}#questions"
    )


def install_panel_pages(app: web.Application, services: PanelPagesServices) -> None:
    """After `install_dashboard`: the editor shares its templates, session and CSRF."""
    app[PANEL_PAGES] = services
    r = app.router
    g = "/servers/{guild_id}/panels"
    p = g + "/{panel_id:pnl_[A-Za-z0-9_-]+}"
    b = p + "/buttons/{button_id:btn_[A-Za-z0-9_-]+}"
    r.add_get(g, panels_page)
    r.add_post(g, create_panel)
    r.add_get(g + "/export", export_panels)
    r.add_post(g + "/import", import_panels)
    r.add_get(p, panel_page)
    r.add_post(p, edit_panel)
    r.add_post(p + "/{action:post|refresh|delete|button}", panel_action)
    r.add_get(b, button_page)
    r.add_post(b, edit_button)
    r.add_post(b + "/{action:remove|move}", button_action)
    r.add_post(b + "/questions", question_change)
    r.add_post(b + "/questions/{question_id:qst_[A-Za-z0-9_-]+}", question_change)
    r.add_post(
        b + "/questions/{question_id:qst_[A-Za-z0-9_-]+}/{action:remove|move}", question_change
    )
