"""The staff stats page: per server or per button, over a chosen period, with charts drawn here
as inline SVG (shapes and attributes only: nothing to fetch, nothing the page's policy forbids)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.core.access import MemberDirectory
from bot.core.limits import Clock
from bot.core.stats import DAY_S, DayCount, Durations, ServerStats, StaffStats, period_ending
from bot.web.app import PanelList
from bot.web.views import _admin, render

PERIODS = (7, 30, 90, 365)
CHART_W = 720
CHART_H = 180
AXIS_W = 36


@dataclass(frozen=True, slots=True)
class StatsPagesServices:
    stats: StaffStats
    directory: MemberDirectory
    panels: PanelList
    clock: Clock


STATS_PAGES: web.AppKey[StatsPagesServices] = web.AppKey("stats_pages")


def human(seconds: float | None) -> str:
    """A duration as a person says it: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if seconds is None:
        return "none yet"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < DAY_S:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // DAY_S} d {s % DAY_S // 3600} h"


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    button_y: float
    button_h: float
    api_y: float
    api_h: float
    title: str

    def svg(self) -> str:
        """The bar as the page draws it: its day and counts as a tooltip, then the button part
        and the API part (a part with no tickets is left out)."""
        at = f'<rect x="{self.x}" y="'
        size = f'" width="{self.width}" height="'
        button = (
            f'{at}{self.button_y}{size}{self.button_h}" fill="#5865f2"/>' if self.button_h else ""
        )
        api = f'{at}{self.api_y}{size}{self.api_h}" fill="#1a7f37"/>' if self.api_h else ""
        return f"<g><title>{html.escape(self.title)}</title>{button}{api}</g>"


def chart(days: list[DayCount]) -> dict[str, Any]:
    """Stacked bars, one per day (button below, API above), scaled to the busiest day."""
    top = max((d.total for d in days), default=0) or 1
    plot_w = CHART_W - AXIS_W
    step = plot_w / max(len(days), 1)
    gap = min(2.0, step * 0.2)
    bars = []
    for i, d in enumerate(days):
        button_h = CHART_H * d.button / top
        api_h = CHART_H * d.api / top
        bars.append(
            Bar(
                x=round(AXIS_W + i * step + gap / 2, 2),
                width=round(max(step - gap, 0.5), 2),
                button_y=round(CHART_H - button_h, 2),
                button_h=round(button_h, 2),
                api_y=round(CHART_H - button_h - api_h, 2),
                api_h=round(api_h, 2),
                title=f"{time.strftime('%Y-%m-%d', time.gmtime(d.day))}: "
                f"{d.button} by button, {d.api} by API",
            )
        )
    first = days[0].day if days else 0
    last = days[-1].day if days else 0
    return {
        "width": CHART_W,
        "height": CHART_H + 24,
        "plot_h": CHART_H,
        "axis_w": AXIS_W,
        "top": top,
        "bars": bars,
        # Written here rather than by the template, which spends ~10 escapes a bar on numbers
        # (a 365-day chart: a third of the page's time). Numbers and an escaped text only.
        "bars_svg": "".join(bar.svg() for bar in bars),
        "first": time.strftime("%b %d", time.gmtime(first)),
        "last": time.strftime("%b %d", time.gmtime(last)),
    }


def _durations(d: Durations) -> dict[str, str | int]:
    return {"count": d.count, "median": human(d.median), "p90": human(d.p90)}


def _handled_chart(stats: ServerStats, names: MemberDirectory, guild_id: int) -> list[Any]:
    most = max((h.claims + h.closes for h in stats.handled), default=0) or 1
    return [
        {
            "name": names.member_name(guild_id, h.user_id) or f"user {h.user_id}",
            "claims": h.claims,
            "closes": h.closes,
            "claims_w": round(100 * h.claims / most, 1),
            "closes_w": round(100 * h.closes / most, 1),
        }
        for h in stats.handled
    ]


async def stats_page(request: web.Request) -> web.Response:
    admin = _admin(request)
    services = request.app[STATS_PAGES]
    guild_id = admin.server.guild_id
    raw_days = request.query.get("days", "30")
    days = int(raw_days) if raw_days in {str(p) for p in PERIODS} else 30
    panels = await services.panels.list_panels(guild_id)
    buttons = [(b.button_id, f"{p.title} → {b.label}") for p in panels for b in p.buttons]
    button_id = request.query.get("button") or None
    if button_id not in {b for b, _ in buttons}:
        button_id = None
    period = period_ending(services.clock(), days)
    stats = await services.stats.server(guild_id, period, button_id)
    return render(
        request,
        "stats.html",
        {
            "server": admin.server,
            "tab": "stats",
            "stats": stats,
            "days": days,
            "periods": PERIODS,
            "buttons": buttons,
            "button_id": button_id or "",
            "chart": chart(stats.days),
            "by_button": sum(d.button for d in stats.days),
            "by_api": sum(d.api for d in stats.days),
            "first_reply": _durations(stats.first_reply),
            "close": _durations(stats.close),
            "handled": _handled_chart(stats, services.directory, guild_id),
            "since": time.strftime("%Y-%m-%d", time.gmtime(period.start)),
            "until": time.strftime("%Y-%m-%d", time.gmtime(period.end - DAY_S)),
        },
    )


def install_stats_page(app: web.Application, services: StatsPagesServices) -> None:
    app[STATS_PAGES] = services
    app.router.add_get("/servers/{guild_id}/stats", stats_page)
