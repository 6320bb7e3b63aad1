"""Reading hand-written TOML (config.toml, panel files) with errors an admin can act on.

tomllib says what a file holds but not where: `Locator` finds the line of every key path,
arrays of tables included (``panels[1].buttons[0].label``), so each problem is reported as
``file:line: key: message``. The value checks here (`string`, `integer`, ...) raise `Invalid`
without a place; the reader that knows the key path adds it.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from typing import Any


class Invalid(Exception):
    """A value is wrong; the caller adds file, line and key path."""


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``; did you mean 'port'?`` for a misspelt name close to a known one, else ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_toml(text: str, *, source: str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """`text` parsed; a syntax error raises ``error("file:line: invalid TOML: ...")``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_ERROR_AT_RE.search(str(exc))
        line = int(found[1]) if found else max(1, len(text.splitlines()))
        raise error(f"{source}:{line}: invalid TOML: {exc}") from None


# -- what a value is ------------------------------------------------------------------------------

_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is a subclass of int
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (list, "array"),
    (dict, "table"),
    (datetime.datetime, "datetime"),  # before date, its base class
    (datetime.date, "date"),
    (datetime.time, "time"),
)


def toml_type(value: object) -> str:
    """The TOML name of a parsed value's type, for messages."""
    return next((name for t, name in _TOML_TYPES if isinstance(value, t)), type(value).__name__)


def string(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected string, got {toml_type(value)}")
    return value


def integer(value: object) -> int:
    if type(value) is not int:  # not isinstance: TOML's `true` must not pass as 1
        raise Invalid(f"expected integer, got {toml_type(value)}")
    return value


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {toml_type(value)}")
    return value


# -- where keys are -------------------------------------------------------------------------------

_BARE_KEY = r"[A-Za-z0-9_-]+"
_KEY = rf"""(?:{_BARE_KEY}|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"
_HEADER_RE = re.compile(rf"[ \t]*(\[\[?)[ \t]*({_DOTTED})[ \t]*\]\]?")
_ASSIGN_RE = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=")
_TOML_ERROR_AT_RE = re.compile(r"\(at line (\d+), column \d+\)")


def _split_key(dotted: str) -> list[str]:
    return [part[1:-1] if part[0] in "\"'" else part for part in re.findall(_KEY, dotted)]


def join(path: str, key: str) -> str:
    """`path.key`, with a key that is not a bare TOML key quoted, as it is written in TOML."""
    shown = key if re.fullmatch(_BARE_KEY, key) else json.dumps(key, ensure_ascii=False)
    return f"{path}.{shown}" if path else shown


class _Scanner:
    """Finds the line of every key path (``panels[1].buttons[0].label``) since tomllib won't.

    A line scanner that knows just enough TOML to skip strings (multi-line ones too), comments
    and values that span lines, so a ``key =`` or ``[[...]]`` inside a string is not taken for a
    key. Only used for messages: a miss costs a less precise line number, nothing else.
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        self._counts: dict[str, int] = {}  # array-of-tables path -> tables seen so far
        self._table = ""
        self._string: str | None = None  # the open multi-line string's delimiter
        self._depth = 0  # open brackets/braces of a value spanning lines
        for number, line in enumerate(text.splitlines(), start=1):
            self._line(number, line)

    def _resolve(self, parts: list[str]) -> str:
        """The concrete path of a header's key: arrays of tables resolve to their last table."""
        path = ""
        for part in parts:
            path = join(path, part)
            if path in self._counts:
                path += f"[{self._counts[path] - 1}]"
        return path

    def _line(self, number: int, line: str) -> None:
        start = 0
        if self._string is not None:
            start = self._close_multiline(line, 0)
            if start < 0:
                return
        elif self._depth == 0:
            start = self._key(number, line)
        self._scan_value(line, start)

    def _key(self, number: int, line: str) -> int:
        if header := _HEADER_RE.match(line):
            parts = _split_key(header[2])
            if header[1] == "[[":
                parent = self._resolve(parts[:-1])
                array = join(parent, parts[-1])
                index = self._counts.get(array, 0)
                self._counts[array] = index + 1
                self.lines.setdefault(array, number)
                self._table = f"{array}[{index}]"
            else:
                self._table = self._resolve(parts)
            self.lines.setdefault(self._table, number)
            return header.end()
        if assign := _ASSIGN_RE.match(line):
            path = self._table
            for part in _split_key(assign[1]):
                path = join(path, part)
                self.lines.setdefault(path, number)
            return assign.end()
        return 0

    def _close_multiline(self, line: str, start: int) -> int:
        """Index after the open multi-line string's end on this line, or -1 if it goes on."""
        assert self._string is not None
        i = start
        while i < len(line):
            if self._string == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(self._string, i):
                i += 3
                while line.startswith(self._string[0], i):  # up to two quotes end the content
                    i += 1
                self._string = None
                return i
            i += 1
        return -1

    def _scan_value(self, line: str, start: int) -> None:
        i = start
        while i < len(line):
            char = line[i]
            if char == "#":
                return
            if line.startswith(('"""', "'''"), i):
                self._string = line[i : i + 3]
                i = self._close_multiline(line, i + 3)
                if i < 0:
                    return
                continue
            if char in "\"'":
                i += 1
                while i < len(line) and line[i] != char:
                    i += 2 if char == '"' and line[i] == "\\" else 1
            elif char in "[{":
                self._depth += 1
            elif char in "]}":
                self._depth = max(0, self._depth - 1)
            i += 1


class Locator:
    """Where each key path of a file is, for messages; `text` None knows no lines."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.lines = _Scanner(text).lines if text is not None else {}

    def line(self, path: str) -> int | None:
        """The line of `path`, else of the nearest enclosing key (an inline table, say)."""
        while path:
            if (found := self.lines.get(path)) is not None:
                return found
            path = re.sub(r"(?:\[\d+\]|\.[^.\[]+|^[^.\[]+)$", "", path)
        return None

    def where(self, path: str) -> str:
        """``file:line`` of `path`, or just ``file`` when its line is not known."""
        line = self.line(path)
        return self.source if line is None else f"{self.source}:{line}"
