"""Parsing the body of `POST /api/v1/tickets`: every mistake named, nothing guessed."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any, NamedTuple

from aiohttp import web

from bot.api.errors import BodyTimeout
from bot.core.errors import InvalidRequest
from bot.core.models import Answer
from bot.core.numbers import SNOWFLAKE_MAX
from bot.core.toml_reader import did_you_mean

FIELDS = ("userId", "panelId", "buttonId", "answers")
ID_MAX = 100
ANSWERS_MAX = 25  # embed fields
LABEL_MAX = 256  # embed field name
VALUE_MAX = 1024  # embed field value
ANSWERS_TOTAL_MAX = 5000  # of the embed's 6000; the rest is the welcome's title and text
MAX_BODY_BYTES = 64 * 1024  # as sent, and once decoded
SNOWFLAKE_DIGITS = len(str(SNOWFLAKE_MAX))
# What aiohttp decompresses by itself; anything else would reach the JSON parser still encoded.
CONTENT_ENCODINGS = ("", "identity", "gzip", "deflate")


# Content-Type values that need no parsing to be accepted (the rest are parsed by aiohttp).
_PLAIN_JSON = frozenset(("application/json", "application/json; charset=utf-8"))

# The body's JSON object, once parsed (the request log records the IDs sent in it); read only.
SENT_FIELDS: web.RequestKey[dict[str, Any]] = web.RequestKey("sent_fields", dict)


class OpenRequest(NamedTuple):
    user_id: int
    panel_id: str
    button_id: str
    answers: tuple[Answer, ...]


def _invalid(field: str, message: str, code: str = "invalid_field") -> InvalidRequest:
    return InvalidRequest(code, field, message)


async def parse_open_request(request: web.Request, body_timeout: float = 10.0) -> OpenRequest:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in CONTENT_ENCODINGS:
        raise _invalid(
            "Content-Encoding",
            f"Content-Encoding {encoding!r} is not supported (send identity, gzip or deflate)",
            "invalid_content_encoding",
        )
    if (
        request.headers.get("Content-Type") not in _PLAIN_JSON
        and request.content_type != "application/json"
    ):
        got = request.content_type if request.body_exists else "none"
        raise _invalid(
            "body",
            f"Content-Type must be application/json (got {got})",
            "invalid_content_type",
        )
    try:
        if request.content.is_eof():  # all of it arrived with the headers: nothing to wait for
            raw = await request.read()
        else:
            async with asyncio.timeout(body_timeout):
                raw = await request.read()
    except TimeoutError:
        raise BodyTimeout(body_timeout) from None
    except web.RequestPayloadError as exc:  # e.g. a broken chunked encoding
        raise _invalid("body", f"the body could not be read ({exc})", "invalid_body") from None
    parsed = _PARSED.get((encoding, raw))
    if parsed is not None:
        request[SENT_FIELDS] = parsed[0]
        return parsed[1]
    try:
        body = json.loads(_decoded(raw, encoding, MAX_BODY_BYTES))
    except RecursionError:
        raise _invalid("body", "the body is nested too deeply", "invalid_json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("body", f"the body is not valid JSON: {exc}", "invalid_json") from None
    if not isinstance(body, dict):
        raise _invalid(
            "body", f"the body must be a JSON object, got {_json_type(body)}", "invalid_body"
        )
    request[SENT_FIELDS] = body  # the request log reads the IDs from it, not parsing again
    for key in body:
        if key not in FIELDS:
            raise _invalid(
                key,
                f"unknown field {key!r} (fields: {', '.join(FIELDS)}){did_you_mean(key, FIELDS)}",
                "unknown_field",
            )
    parsed = (
        body,
        OpenRequest(
            user_id=_user_id(body),
            panel_id=_id_string(body, "panelId"),
            button_id=_id_string(body, "buttonId"),
            answers=_answers(body.get("answers", [])),
        ),
    )
    if len(raw) <= _PARSED_BODY_MAX:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()  # many distinct bodies: start over rather than grow
        _PARSED[encoding, raw] = parsed
    return parsed[1]


# Valid bodies as sent, parsed: a client that retries the same body (a flood of refusals is one)
# is answered without parsing and checking it again. Parsing is a function of these bytes and
# their encoding alone, so nothing here can go stale. The dicts are the request log's to read
# (`SENT_FIELDS`), never to change.
_PARSED: dict[tuple[str, bytes], tuple[dict[str, Any], OpenRequest]] = {}
_PARSED_MAX = 1024
_PARSED_BODY_MAX = 2048  # bytes: at most 2 MiB held; a body with long answers is parsed anew


def _decoded(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body as its Content-Encoding says (the server leaves compressed bodies to us, so a
    body that doesn't match is always a 400, and a small one can't decompress to a huge one)."""
    if encoding in ("", "identity"):
        return raw
    # gzip; deflate is zlib-wrapped per HTTP, but some clients send it raw.
    for wbits in (31,) if encoding == "gzip" else (15, -15):
        decoder = zlib.decompressobj(wbits)
        try:
            body = decoder.decompress(raw, limit + 1)
        except zlib.error:
            continue
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
        if decoder.eof and not decoder.unused_data:
            return body
    raise _invalid(
        "Content-Encoding",
        f"the body is not valid {encoding} data, as its Content-Encoding says",
        "invalid_content_encoding",
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _require(body: dict[str, Any], field: str) -> Any:
    if field not in body:
        raise _invalid(field, f"{field} is required", "missing_field")
    return body[field]


def _user_id(body: dict[str, Any]) -> int:
    value = _require(body, "userId")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _invalid(
            "userId",
            'userId must be a string, e.g. "123456789012345678": JSON numbers above 2^53 '
            "lose digits, so Discord IDs are sent as strings",
        )
    if not isinstance(value, str):
        raise _invalid("userId", f"userId must be a string, got {_json_type(value)}")
    if len(value) > SNOWFLAKE_DIGITS:
        raise _invalid(
            "userId", f"userId must be a Discord user ID: at most {SNOWFLAKE_DIGITS} digits"
        )
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= SNOWFLAKE_MAX:
        raise _invalid("userId", f"userId must be a Discord user ID (digits only), got {value!r}")
    return int(value)


def _id_string(body: dict[str, Any], field: str) -> str:
    value = _require(body, field)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, f"{field} must be a non-empty string, got {_json_type(value)}")
    if len(value) > ID_MAX:
        raise _invalid(field, f"{field} is longer than {ID_MAX} characters")
    _check_text(field, value)
    return value


def _check_text(field: str, value: str) -> None:
    """JSON can carry a lone UTF-16 surrogate (`\\ud800`); no text store or Discord takes one."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _invalid(
            field, f"{field} contains an unpaired UTF-16 surrogate at character {exc.start}"
        ) from None


def _answers(value: Any) -> tuple[Answer, ...]:
    if not isinstance(value, list):
        raise _invalid("answers", f"answers must be an array, got {_json_type(value)}")
    if len(value) > ANSWERS_MAX:
        raise _invalid("answers", f"answers has {len(value)} items; at most {ANSWERS_MAX}")
    answers = []
    total = 0
    for i, item in enumerate(value):
        where = f"answers[{i}]"
        if not isinstance(item, dict):
            raise _invalid(where, f"{where} must be an object with label and value strings")
        extra = set(item) - {"label", "value"}
        if extra:
            raise _invalid(where, f"{where} has unknown field(s): {', '.join(sorted(extra))}")
        label, text = item.get("label"), item.get("value")
        for name, field, limit, minimum in (
            ("label", label, LABEL_MAX, 1),
            ("value", text, VALUE_MAX, 0),
        ):
            if not isinstance(field, str):
                raise _invalid(f"{where}.{name}", f"{where}.{name} must be a string")
            if not minimum <= len(field) <= limit:
                raise _invalid(
                    f"{where}.{name}",
                    f"{where}.{name} must be {minimum} to {limit} characters, got {len(field)}",
                )
            _check_text(f"{where}.{name}", field)
        assert isinstance(label, str)
        assert isinstance(text, str)
        total += len(label) + len(text)
        answers.append(Answer(label, text))
    if total > ANSWERS_TOTAL_MAX:
        raise _invalid(
            "answers",
            f"answers total {total} characters; at most {ANSWERS_TOTAL_MAX} fit in the welcome",
        )
    return tuple(answers)
