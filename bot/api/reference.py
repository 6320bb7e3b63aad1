"""`GET /api/v1/openapi.json` and `GET /api/v1/docs`: the OpenAPI document, and the same document
rendered as a self-contained reference page (inline CSS, no script, nothing fetched from elsewhere).
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any

from aiohttp import web

from bot.api.openapi import ERRORS, HEADERS, openapi_document

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1f2328}
h1,h2,h3{line-height:1.2}h2{margin-top:2.5rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
code,pre{font:13px ui-monospace,monospace;background:#f6f8fa;border-radius:4px}
code{padding:.1rem .3rem}pre{padding:.8rem;overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;
padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
.method{font-weight:700;text-transform:uppercase;color:#fff;background:#0969da;padding:.1rem .4rem;
border-radius:4px;margin-right:.4rem}.post{background:#1a7f37}
"""

_EXAMPLES = """
<h2 id="examples">Examples</h2>
<p>Open a ticket, safe to retry with the same <code>Idempotency-Key</code>:</p>
<pre>curl -s -X POST "$BASE/api/v1/tickets" \\
  -H "Authorization: Bearer $RIMPLLEE_KEY" \\
  -H "Content-Type: application/json" \\
  -H "Idempotency-Key: $(uuidgen)" \\
  -d '{"userId": "123456789012345678", "panelId": "pnl_abc123", "buttonId": "btn_def456"}'</pre>
<pre>const res = await fetch(`${BASE}/api/v1/tickets`, {
  method: "POST",
  headers: {
    "Authorization": `Bearer ${process.env.RIMPLLEE_KEY}`,
    "Content-Type": "application/json",
    "Idempotency-Key": crypto.randomUUID(),
  },
  body: JSON.stringify({ userId, panelId: "pnl_abc123", buttonId: "btn_def456" }),
});
const body = await res.json();
if (!body.ok) throw new Error(`${body.error.code}: ${body.error.message}`);</pre>
<p>Verify a webhook (Python, <code>pip install standardwebhooks</code>):</p>
<pre>from standardwebhooks.webhooks import Webhook
event = Webhook(SECRET).verify(request_body, request_headers)  # raises if forged or stale
if not already_seen(event["id"]):                              # delivered at least once
    handle(event["type"], event["data"])</pre>
"""


def _text(markdown: str) -> str:
    """Escaped text with `code` spans, the only markup the document's descriptions use."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(markdown, quote=False))


def _schema_rows(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        if "$ref" in prop:
            kind = prop["$ref"].rsplit("/", 1)[1]
        else:
            kind = prop.get("type", "const" if "const" in prop else "")
            kind = " or ".join(kind) if isinstance(kind, list) else kind
            if "enum" in prop:
                kind += ": " + ", ".join(map(str, prop["enum"]))
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(str(kind))}</td>"
            f"<td>{'required' if name in required else ''}</td>"
            f"<td>{_text(prop.get('description', ''))}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<table><tr><th>field</th><th>type</th><th></th><th></th></tr>" + "".join(rows) + "</table>"
    )


def render_reference(document: dict[str, Any]) -> str:
    components = document["components"]["schemas"]
    info = document["info"]
    out = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{html.escape(info['title'])} reference</title><style>{_CSS}</style>",
        f"<h1>{html.escape(info['title'])} <small>{html.escape(info['version'])}</small></h1>",
        f"<p>{_text(info['description'])}</p>",
        "<p>Authenticate with <code>Authorization: Bearer rmp_…</code> or <code>x-api-key</code>."
        ' The machine-readable document: <a href="/api/v1/openapi.json">openapi.json</a>.</p>',
        "<h2>Headers</h2><table><tr><th>header</th><th>meaning</th></tr>",
    ]
    for name, header in HEADERS.items():
        out.append(f"<tr><td><code>{name}</code></td><td>{_text(header['description'])}</td></tr>")
    out.append("</table><h2>Endpoints</h2>")
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            out.append(
                f'<h3 id="{op["operationId"]}"><span class="method {method}">{method}</span>'
                f"<code>{html.escape(path)}</code> — {html.escape(op['summary'])}</h3>"
            )
            if "description" in op:
                out.append(f"<p>{_text(op['description'])}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th></th><th></th></tr>")
                for p in params:
                    out.append(
                        f"<tr><td><code>{p['name']}</code></td><td>{p['in']}</td>"
                        f"<td>{'required' if p.get('required') else ''}</td>"
                        f"<td>{_text(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                out.append("<p>Body:</p>" + _schema_rows(body["schema"], components))
            out.append("<table><tr><th>status</th><th>meaning</th></tr>")
            for status, response in op["responses"].items():
                codes = ERRORS.get(int(status)) if status.isdigit() else None
                meaning = (
                    "<br>".join(f"<code>{c}</code> — {_text(d)}" for c, d in codes.items())
                    if codes
                    else _text(response["description"])
                )
                out.append(f"<tr><td>{status}</td><td>{meaning}</td></tr>")
            out.append("</table>")
            ok = op["responses"].get("200", {}).get("content", {}).get("application/json")
            if ok and "$ref" in ok["schema"]:
                out.append("<p>200 body:</p>" + _schema_rows(ok["schema"], components))
    out.append("<h2>Errors</h2><table><tr><th>status</th><th>code</th><th>when</th></tr>")
    for status, codes in ERRORS.items():
        for code, meaning in codes.items():
            out.append(
                f"<tr><td>{status}</td><td><code>{code}</code></td><td>{_text(meaning)}</td></tr>"
            )
    out.append("</table><h2>Webhooks</h2>")
    event = document["webhooks"]["ticketEvent"]["post"]
    out.append(f"<p>{_text(event['description'])}</p>")
    out.append(
        _schema_rows(event["requestBody"]["content"]["application/json"]["schema"], components)
    )
    out.append(_schema_rows(components["TicketEvent"]["properties"]["data"], components))
    out.append(_EXAMPLES)
    return "\n".join(out)


@functools.cache
def _page() -> bytes:
    return render_reference(openapi_document()).encode()


@functools.cache
def _json() -> bytes:
    return json.dumps(openapi_document(), indent=2).encode()


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_json(), content_type="application/json")


async def reference_page(request: web.Request) -> web.Response:
    return web.Response(body=_page(), content_type="text/html", charset="utf-8")


def setup_reference_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/api/v1/docs", reference_page)
