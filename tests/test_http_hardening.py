"""The HTTP listener against clients that stall, vanish, or send what no client should."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import http.client
import json
import logging
import string
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api.server import LINGER_S
from bot.app import Rimpllee
from bot.sandbox.emulator import DiscordEmulator
from bot.sandbox.runner import (
    DEMO_API_KEY,
    DEMO_PANEL_ID,
    HELP_BUTTON_ID,
    HELP_QUESTION,
    REPORT_BUTTON_ID,
    SandboxWorld,
    sandbox_config,
    seed_database,
)
from tests.conftest import FakeClock, LoopErrors, running
from tests.helpers import error, post, ticket

pytestmark = pytest.mark.asyncio

FUZZ_REQUESTS = 2000


@pytest_asyncio.fixture
async def quick(
    emulator: DiscordEmulator,
    world: SandboxWorld,
    loop_errors: LoopErrors,
    tmp_path: Path,
    clock: FakeClock,
) -> AsyncIterator[Rimpllee]:
    """The bot with 1 s header and body timeouts, so a test can wait them out."""
    database = tmp_path / "r.db"
    await seed_database(database, world)
    base = sandbox_config(emulator, http_port=0, database=database)
    config = dataclasses.replace(
        base,
        http=dataclasses.replace(base.http, header_timeout_seconds=1, body_timeout_seconds=1),
    )
    async with running(emulator, database, loop_errors, clock=clock, config=config) as app:
        yield app


async def exchange(app: Rimpllee, data: bytes, *, close: bool = False) -> tuple[bytes, float]:
    """Send raw bytes; what comes back until the server closes, and after how long."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app.http_port)
    started = time.monotonic()
    writer.write(data)
    await writer.drain()
    if close:
        writer.close()
        await writer.wait_closed()
        return b"", 0.0
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    return answer, time.monotonic() - started


def parsed(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),
        ("/api/v1/nowhere", 404),
        ("/api/v1/tickets", 405),
        ("/api/v1/panels", 401),
        ("/", 200),
        ("/login", 303),
        ("/no-such-page", 404),
        ("/static/app.css", 200),
    ],
)
async def test_the_server_header_names_no_versions(app: Rimpllee, path: str, status: int) -> None:
    """Every kind of answer: JSON, refusals, dashboard pages, error pages and static files."""
    answer, _ = await exchange(
        app, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    head = answer.partition(b"\r\n\r\n")[0].decode()
    assert head.split()[1] == str(status)
    assert "\r\nServer: rimpllee\r\n" in head


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
        (b"G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n", 400),
        (
            b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n{}\r\n0\r\n\r\n",
            400,
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % i for i in range(130))
            + b"\r\n",
            400,
        ),
        (
            b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad\x01: 1\r\n\r\n", 400),
    ],
    ids=[
        "header-without-colon",
        "bad-method",
        "bad-version",
        "line-over-8190",
        "bad-chunk",
        "130-headers",
        "length-and-chunked",
        "control-char",
    ],
)
async def test_what_aiohttps_parser_refuses_is_json_too(
    app: Rimpllee, request_bytes: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    answer, _ = await exchange(app, request_bytes)
    got, headers, body = parsed(answer)
    assert got == status
    assert headers["server"] == "rimpllee"
    assert body["error"]["code"] == "bad_http_request"
    assert body["error"]["message"].startswith("malformed HTTP request")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_client_that_disconnects_mid_body_is_one_debug_line(
    app: Rimpllee, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="rimpllee.api")
    head = (
        "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"x-api-key: {DEMO_API_KEY}\r\nContent-Length: 1000\r\n\r\n"
    )
    for _ in range(20):
        await exchange(app, head.encode() + b'{"userId": "1', close=True)
    async with asyncio.timeout(5):
        while len([r for r in caplog.records if "disconnected" in r.getMessage()]) < 20:
            await asyncio.sleep(0.02)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_stalled_client_is_cut_off_at_the_header_timeout(quick: Rimpllee) -> None:
    answer, waited = await exchange(quick, b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n")
    assert answer == b""  # closed: no request came
    assert 0.9 < waited < 4


async def test_a_body_that_never_arrives_is_a_408_at_the_body_timeout(quick: Rimpllee) -> None:
    head = (
        "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"x-api-key: {DEMO_API_KEY}\r\nContent-Length: 100\r\n\r\n"
    )
    answer, waited = await exchange(quick, head.encode() + b'{"userId"')
    status, _, body = parsed(answer)
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        408,
        "request_timeout",
        "body",
    )
    assert 0.9 < waited < 1 + LINGER_S + 2  # answered at 1 s, closed after the linger


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            b'{"userId": "' + b"9" * 5000 + b'", "panelId": "pnl_demo", "buttonId": "btn_report"}',
            "userId",
        ),
        (b'{"userId": "1", "panelId": "pnl_\\ud800", "buttonId": "btn_report"}', "panelId"),
        (b'{"userId": "1", "panelId": "pnl_demo", "buttonId": "\\udfff"}', "buttonId"),
        (
            b'{"userId": "1", "panelId": "pnl_demo", "buttonId": "btn_help", '
            b'"answers": [{"label": "x", "value": "a\\ud800b"}]}',
            "answers[0].value",
        ),
    ],
    ids=["5000-digit-userId", "surrogate-panelId", "surrogate-buttonId", "surrogate-answer"],
)
async def test_bad_text_is_a_400_naming_the_field(app: Rimpllee, raw: bytes, field: str) -> None:
    reply = await post(
        app, None, raw=raw, headers={"x-api-key": DEMO_API_KEY, "Content-Type": "application/json"}
    )
    assert reply[0] == 400
    assert error(reply)["field"] == field


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", json.dumps(ticket(1)).encode()),  # says gzip, isn't
        ("deflate", b"\x00\x01not deflate"),
        ("br", gzip.compress(json.dumps(ticket(1)).encode())),  # not one we take
        ("deflate", b"{}"),
        ("gzip", gzip.compress(json.dumps(ticket(1)).encode())[:-4]),  # cut short
        ("rot13", json.dumps(ticket(1)).encode()),
    ],
)
async def test_a_content_encoding_the_body_does_not_match_is_a_400(
    app: Rimpllee, encoding: str, body: bytes
) -> None:
    headers = {
        "x-api-key": DEMO_API_KEY,
        "Content-Type": "application/json",
        "Content-Encoding": encoding,
    }
    reply = await post(app, None, raw=body, headers=headers)
    assert reply[0] == 400
    assert error(reply)["code"] == "invalid_content_encoding"
    assert error(reply)["field"] == "Content-Encoding"


async def test_a_body_that_decompresses_past_64_kib_is_a_413(app: Rimpllee) -> None:
    bomb = gzip.compress(b'{"userId": "' + b"1" * 1_000_000 + b'"}')
    headers = {
        "x-api-key": DEMO_API_KEY,
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    reply = await post(app, None, raw=bomb, headers=headers)
    assert (reply[0], error(reply)["code"]) == (413, "body_too_large")


async def test_a_gzipped_body_is_accepted(app: Rimpllee, world: SandboxWorld) -> None:
    body = gzip.compress(json.dumps(ticket(world.members[0].id)).encode())
    headers = {
        "x-api-key": DEMO_API_KEY,
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    assert (await post(app, None, raw=body, headers=headers))[0] == 200


# -- the fuzz test ------------------------------------------------------------------------------

TEXT = st.one_of(
    st.text(max_size=30),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF).map(lambda c: f"pnl_{c}"),
    st.sampled_from([DEMO_PANEL_ID, HELP_BUTTON_ID, REPORT_BUTTON_ID, HELP_QUESTION, ""]),
    st.text(min_size=90, max_size=300),
)
JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    TEXT,
    st.from_regex(r"[0-9]{1,60}", fullmatch=True),
)
JSON_VALUE = st.one_of(
    JSON_LEAF,
    st.lists(JSON_LEAF, max_size=4),
    st.dictionaries(TEXT, JSON_LEAF, max_size=4),
    st.lists(st.lists(JSON_LEAF, max_size=3), max_size=3),
)
ANSWER = st.one_of(
    st.fixed_dictionaries({"label": TEXT, "value": TEXT}),
    st.dictionaries(st.sampled_from(["label", "value", "extra"]), JSON_VALUE, max_size=3),
    JSON_VALUE,
)
BODY = st.one_of(
    st.dictionaries(
        st.sampled_from(["userId", "panelId", "buttonId", "answers", "userid", "extra"]),
        st.one_of(JSON_VALUE, st.lists(ANSWER, max_size=30)),
        max_size=5,
    ).map(lambda d: json.dumps(d).encode()),
    JSON_VALUE.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)
HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ;=/-_.", max_size=40)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.one_of(
            st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]),
            HEADER_TEXT,
        ),
        "Content-Encoding": st.one_of(
            st.sampled_from(["gzip", "deflate", "identity", "br"]), HEADER_TEXT
        ),
        "x-api-key": st.one_of(st.just(DEMO_API_KEY), HEADER_TEXT),
        "Authorization": st.one_of(st.just(f"Bearer {DEMO_API_KEY}"), HEADER_TEXT),
        "X-Forwarded-For": HEADER_TEXT,
    },
)


async def test_fuzzed_open_requests_never_get_a_5xx_and_always_json(quick: Rimpllee) -> None:
    port = quick.http_port
    seen: list[int] = []

    @settings(
        max_examples=FUZZ_REQUESTS,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=BODY, headers=HEADERS, compress=st.booleans())
    def one_request(body: bytes, headers: dict[str, str], compress: bool) -> None:
        if compress and headers.get("Content-Encoding") == "gzip":
            body = gzip.compress(body)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/api/v1/tickets", body=body, headers=headers)
            response = connection.getresponse()
            status, content_type, payload = (
                response.status,
                response.getheader("Content-Type"),
                response.read(),
            )
        finally:
            connection.close()
        seen.append(status)
        assert status < 500, (status, payload)
        assert (content_type or "").startswith("application/json"), (status, content_type)
        assert json.loads(payload)["ok"] in (True, False)

    await asyncio.to_thread(one_request)
    print(f"\nfuzz: {len(seen)} requests, statuses {sorted(set(seen))}, 5xx: 0")
    assert len(seen) >= FUZZ_REQUESTS
