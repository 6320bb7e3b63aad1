"""Every request the emulator serves, checked against Discord's own OpenAPI spec.

The spec (`discord_spec/openapi.json`, vendored from `discord/discord-api-spec`) is read once per
process; each operation's path, query and body validators are built on first use and kept. A
violation becomes Discord's 400 "Invalid Form Body" (code 50035) with the `errors` tree naming the
field, as in https://discord.com/developers/docs/reference#error-messages.

How the spec is read, deliberately (its quirks, all handled here and nowhere else):

1. Objects are never closed (no `additionalProperties: false`): unknown fields are accepted, as
   Discord ignores them.
2. Unions (`oneOf`/`anyOf`, `x-discord-union`) overlap, so `oneOf` would reject valid values that
   fit two branches: every `oneOf` is read as `anyOf`. A union of objects is resolved like Discord's
   tagged models: by the branch whose `type` allows the body's `type`, else by the branches whose
   fields cover all of the body's fields (else the one sharing most); the errors reported are that
   branch's, naming the field, never "not valid under any of the given schemas".
3. A `oneOf` of `const` values (Discord's enums with titles) is read as an `enum`.
4. Snowflakes are strings in the spec; Discord also takes JSON integers (hikari sends both).
5. Permission bitsets (`allow`, `deny`, `permissions`, `default_member_permissions`) are integers
   in the spec, but Discord sends them as strings and takes both: a numeric string is accepted.
6. Query parameters arrive as text: they are typed by their schema before validation
   (`after=abc` against an integer or a snowflake is NUMBER_TYPE_COERCE, as Discord answers).
7. `format` (int32, int64, uri, date-time, …) is not checked; lengths, ranges, patterns, enums,
   item counts and required fields are.
8. `multipart/form-data` bodies are checked as their `payload_json` part against the operation's
   `application/json` schema (the spec's multipart schema adds only the `files[n]` parts);
   `application/x-www-form-urlencoded` bodies (OAuth2's token exchange) are left to their handler.
9. `MessageReferenceType` lists only DEFAULT (0); Discord's docs also define FORWARD (1)
   (https://discord.com/developers/docs/resources/message#message-reference-types), which is added.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator

from bot.sandbox.state import JSON
from bot.sandbox.validation import FormErrors

SPEC_FILE = "discord_spec/openapi.json"
_UNION = "x-rimpllee-union"
_PERMISSION_FIELDS = frozenset({"allow", "deny", "permissions", "default_member_permissions"})
_METHODS = ("get", "put", "post", "patch", "delete")


# -- reading the spec (quirks 2-5) ------------------------------------------------------------


def _prepare(document: JSON) -> JSON:
    """The spec with its quirks turned into what Discord accepts (see the module docstring)."""
    schemas = document["components"]["schemas"]
    schemas["SnowflakeType"] = {
        "type": ["string", "integer"],
        "pattern": "^(0|[1-9][0-9]*)$",
        "minimum": 0,
        "format": "snowflake",
    }
    schemas["MessageReferenceType"].setdefault("oneOf", []).append(
        {"title": "FORWARD", "description": "Reference to a forwarded message", "const": 1}
    )

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        branches = node.get("oneOf")
        if isinstance(branches, list):
            del node["oneOf"]
            if branches and all(isinstance(b, dict) and "const" in b for b in branches):
                node["enum"] = [b["const"] for b in branches]
            else:
                node["anyOf"] = branches
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name in _PERMISSION_FIELDS & properties.keys():
                prop = properties[name]
                types = prop.get("type")
                if (isinstance(types, list) and "integer" in types) or types == "integer":
                    kinds = types if isinstance(types, list) else [types]
                    prop["type"] = [*kinds, "string"]
                    prop["pattern"] = "^[0-9]+$"
        for value in node.values():
            walk(value)

    walk(document)

    def resolve(schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            schema = _pointer(document, schema["$ref"])
            seen += 1
        return schema

    def annotate(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                annotate(item)
            return
        if not isinstance(node, dict):
            return
        branches = node.get("anyOf")
        if isinstance(branches, list):
            info: list[JSON | None] = []
            for branch in branches:
                target = resolve(branch)
                props = target.get("properties") if isinstance(target, dict) else None
                if not isinstance(props, dict):
                    info.append(None)
                    continue
                tag = resolve(props.get("type", {}))
                tags = tag.get("enum") if isinstance(tag, dict) else None
                if isinstance(tag, dict) and "const" in tag:
                    tags = [tag["const"]]
                info.append({"keys": sorted(props), "types": tags})
            if any(info):
                node[_UNION] = info
        for key, value in node.items():
            if key != _UNION:
                annotate(value)

    annotate(document)
    _inline(document)
    return document


def _inline(document: JSON) -> None:
    """Every `$ref` replaced by the schema it names (the same dict, so recursive schemas become
    cycles, which validation walks only as deep as the instance): no lookups per request."""

    def target(ref: str) -> Any:
        node = _pointer(document, ref)
        for _ in range(20):
            if not (isinstance(node, dict) and set(node) == {"$ref"}):
                break
            node = _pointer(document, node["$ref"])
        return node

    def walk(node: Any) -> None:
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in list(children):
            if isinstance(child, dict) and "$ref" in child:
                if set(child) == {"$ref"}:
                    node[key] = target(child["$ref"])
                    continue
                walk(child)
                ref = child.pop("$ref")
                child["allOf"] = [*child.get("allOf", []), target(ref)]
            elif isinstance(child, dict | list):
                walk(child)

    walk(document)


def _pointer(document: JSON, ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#").removeprefix("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


# -- unions (quirk 2) ---------------------------------------------------------------------------


def _any_of(
    validator: Any, branches: list[Any], instance: Any, schema: JSON
) -> Iterator[ValidationError]:
    candidates = list(range(len(branches)))
    union: list[JSON | None] | None = schema.get(_UNION)
    if union is not None and isinstance(instance, dict):
        objects = [i for i, b in enumerate(union) if b is not None]
        tagged = [i for i in objects if union[i]["types"] is not None]  # type: ignore[index]
        if tagged and len(tagged) == len(objects):
            allowed = sorted({t for i in tagged for t in union[i]["types"]})  # type: ignore[index]
            if "type" not in instance:
                yield ValidationError("'type' is a required property", validator="required")
                return
            candidates = [i for i in tagged if instance["type"] in union[i]["types"]]  # type: ignore[index]
            if not candidates:
                yield ValidationError(
                    f'Value of field "type" must be one of {tuple(allowed)}.',
                    validator="x-union-type",
                    path=["type"],
                    instance=instance["type"],
                )
                return
        elif objects:
            keys = set(instance)
            covering = [i for i in objects if keys <= set(union[i]["keys"])]  # type: ignore[index]
            candidates = covering or [
                max(objects, key=lambda i: len(keys & set(union[i]["keys"])))  # type: ignore[index]
            ]
    best: list[ValidationError] | None = None
    best_score: tuple[int, int, int] | None = None
    for index in candidates:
        errors = list(validator.descend(instance, branches[index], schema_path=index))
        if not errors:
            return
        score = (
            min(len(e.path) for e in errors),
            0 if all(e.validator == "type" for e in errors) else 1,
            -len(errors),
        )
        if best_score is None or score > best_score:
            best, best_score = errors, score
    yield from best or []


_Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"anyOf": _any_of}
)


# -- Discord's error tree ---------------------------------------------------------------------

_TYPE_ERRORS = {
    "integer": ("NUMBER_TYPE_COERCE", "Value {value} is not int."),
    "number": ("NUMBER_TYPE_COERCE", "Value {value} is not a valid number."),
    "string": ("STRING_TYPE_CONVERT", "Could not interpret {value} as string."),
    "boolean": ("BOOLEAN_TYPE_CONVERT", "Could not interpret {value} as boolean."),
    "array": ("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"),
    "object": ("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"),
}


def _describe(error: ValidationError) -> tuple[list[str | int], str, str]:
    """Where the error is (Discord's field path), its code and its message."""
    path: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    value = json.dumps(error.instance) if not isinstance(error.instance, str) else error.instance
    quoted = f'"{value}"'
    if kind == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        if match:
            path.append(match.group(1))
        return path, "BASE_TYPE_REQUIRED", "This field is required"
    if kind == "x-union-type":
        return path, "UNION_TYPE_CHOICES", error.message
    if schema.get("format") == "snowflake" and kind in ("pattern", "type", "minimum"):
        return path, "NUMBER_TYPE_COERCE", f"Value {quoted} is not snowflake."
    if kind == "type":
        types = schema.get("type")
        first = next(
            (t for t in (types if isinstance(types, list) else [types]) if t != "null"), "object"
        )
        code, message = _TYPE_ERRORS.get(str(first), ("BASE_TYPE_INVALID", "Invalid value."))
        return path, code, message.format(value=quoted)
    if kind in ("minLength", "maxLength", "minItems", "maxItems"):
        unit = "Length" if kind.endswith("Length") else "Items"
        low, high = schema.get(f"min{unit}"), schema.get(f"max{unit}")
        if low is not None and high is not None and low > 0:
            return path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
        if kind.startswith("max"):
            return path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length."
        return path, "BASE_TYPE_MIN_LENGTH", f"Must be {low} or more in length."
    if kind in ("minimum", "exclusiveMinimum"):
        limit = error.validator_value
        return path, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {limit}."
    if kind in ("maximum", "exclusiveMaximum"):
        limit = error.validator_value
        return path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {limit}."
    if kind in ("enum", "const"):
        value_: Any = error.validator_value
        choices = list(value_) if kind == "enum" else [value_]
        listed = ", ".join(json.dumps(c) for c in choices)
        return path, "BASE_TYPE_CHOICES", f"Value must be one of {{{listed}}}."
    if kind == "pattern":
        return path, "STRING_TYPE_REGEX", "String value did not match validation regex."
    if kind == "uniqueItems":
        return path, "LIST_ITEM_VALUE_DUPLICATE", "List item values must be unique."
    if kind in ("maxProperties", "minProperties"):
        return path, "DICT_TYPE_BAD_LENGTH", f"Must have {error.validator_value} keys at most."
    return path, "BASE_TYPE_INVALID", "Invalid value."


def add_errors(
    errors: Iterator[ValidationError], into: FormErrors, prefix: list[str | int]
) -> None:
    seen: set[tuple[str, ...]] = set()
    for error in errors:
        path, code, message = _describe(error)
        key = (*map(str, path), code)
        if key not in seen:
            seen.add(key)
            into.add([*prefix, *path], code, message)


# -- operations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One spec operation with its validators, built once."""

    path: str
    method: str
    literals: tuple[str | None, ...]  # path segments; None where a parameter goes
    path_params: tuple[tuple[str, Validator], ...]  # in path order
    query: Mapping[str, tuple[Validator, frozenset[str]]]  # name -> validator, JSON types
    body: Validator | None
    body_required: bool
    responses: Mapping[str, Validator]  # status ("200", "201", …) -> the answer's schema


class DiscordSpec:
    """Discord's OpenAPI spec, prepared once; `check` validates one request."""

    def __init__(self, document: JSON) -> None:
        self.document = _prepare(document)
        self._by_shape: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for path, item in self.document["paths"].items():
            for method in _METHODS:
                if method in item:
                    shape = (method.upper(), path.count("/"))
                    self._by_shape.setdefault(shape, []).append((path, method))
        self._operations: dict[tuple[str, str], Operation] = {}

    @classmethod
    @functools.cache
    def load(cls) -> DiscordSpec:
        """The vendored spec, read and prepared once per process."""
        text = resources.files("bot.sandbox").joinpath(SPEC_FILE).read_text("utf-8")
        return cls(json.loads(text))

    def _validator(self, pointer: str) -> Validator:
        validator: Validator = _Validator(_pointer(self.document, pointer))
        return validator

    def _schema(self, schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = _pointer(self.document, schema["$ref"])
        return schema

    def _operation(self, path: str, method: str) -> Operation:
        key = (path, method)
        if (op := self._operations.get(key)) is not None:
            return op
        item = self.document["paths"][path]
        spec_op = item[method]
        base = f"/paths/{_escape(path)}"
        params: dict[tuple[str, str], tuple[str, JSON]] = {}
        for where, entries in (("", item.get("parameters", [])), (f"/{method}", None)):
            listed = entries if entries is not None else spec_op.get("parameters", [])
            for index, entry in enumerate(listed):
                param = self._schema(entry)  # the spec inlines parameters: no $ref to follow
                pointer = f"{base}{where}/parameters/{index}/schema"
                params[(param["in"], param["name"])] = (pointer, param.get("schema", {}))
        segments = path.strip("/").split("/")
        path_params = tuple(
            (name, self._validator(params[("path", name)][0]))
            for name in (s[1:-1] for s in segments if s.startswith("{"))
            if ("path", name) in params
        )
        query = {}
        for (where, name), (pointer, schema) in params.items():
            if where == "query":
                types = self._schema(schema).get("type", "string")
                kinds = frozenset(types if isinstance(types, list) else [types])
                query[name] = (self._validator(pointer), kinds)
        body = None
        request_body = self._schema(spec_op.get("requestBody") or {})
        if "application/json" in request_body.get("content", {}):
            body = self._validator(f"{base}/{method}/requestBody/content/application~1json/schema")
        responses = {}
        for status, answer in spec_op.get("responses", {}).items():
            content = self._schema(answer).get("content", {})
            if status.startswith("2") and "application/json" in content:
                responses[status] = self._validator(
                    f"{base}/{method}/responses/{status}/content/application~1json/schema"
                )
        op = Operation(
            path=path,
            method=method.upper(),
            literals=tuple(None if s.startswith("{") else s for s in segments),
            path_params=path_params,
            query=query,
            body=body,
            body_required=bool(request_body.get("required")),
            responses=responses,
        )
        self._operations[key] = op
        return op

    def operation(self, method: str, path: str) -> Operation | None:
        """The spec operation for a concrete request path (literal segments win: `@original`)."""
        segments = path.strip("/").split("/")
        best: tuple[int, str, str] | None = None
        for spec_path, spec_method in self._by_shape.get((method.upper(), path.count("/")), []):
            parts = spec_path.strip("/").split("/")
            if len(parts) != len(segments):
                continue
            literal = 0
            for want, got in zip(parts, segments, strict=True):
                if want.startswith("{"):
                    continue
                if want != got:
                    break
                literal += 1
            else:
                if best is None or literal > best[0]:
                    best = (literal, spec_path, spec_method)
        return None if best is None else self._operation(best[1], best[2])

    def check(
        self,
        op: Operation,
        path: str,
        query: Mapping[str, str],
        body: Any,
        *,
        has_body: bool,
    ) -> FormErrors:
        """The request's violations of `op`, as Discord's error tree (empty when valid)."""
        errors = FormErrors()
        values = [
            s for s, lit in zip(path.strip("/").split("/"), op.literals, strict=True) if not lit
        ]
        for (name, validator), value in zip(op.path_params, values, strict=False):
            add_errors(validator.iter_errors(value), errors, [name])
        for name, raw in query.items():
            if (entry := op.query.get(name)) is not None:
                validator, kinds = entry
                add_errors(validator.iter_errors(_typed(raw, kinds)), errors, [name])
        if op.body is not None and (has_body or op.body_required):
            add_errors(op.body.iter_errors(body if has_body else {}), errors, [])
        return errors


def response_problems(op: Operation, status: int, body: Any) -> list[str]:
    """How an answer of the emulator differs from what the spec says Discord answers."""
    validator = op.responses.get(str(status))
    if validator is None:
        return []
    return [
        f"{op.method} {op.path} {status}: {'.'.join(map(str, e.absolute_path)) or '(body)'}: "
        f"{e.message}"
        for e in validator.iter_errors(body)
    ]


def _typed(raw: str, kinds: frozenset[str]) -> Any:
    """A query value typed by its schema; left as text when it isn't one (then refused)."""
    if "integer" in kinds and re.fullmatch(r"-?[0-9]+", raw):
        return int(raw)
    if "boolean" in kinds and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw
