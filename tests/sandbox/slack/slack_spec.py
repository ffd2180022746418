"""Check Slack stand-in answers against Slack's published Swagger 2.0 spec, honestly.

openapi-core reads only OpenAPI 3, so this validates each method's response schema with
`jsonschema` (Draft 4, Swagger 2's dialect) on a copy of the spec read as a *floor*:

- `additionalProperties: false` is dropped: the 2020 spec predates fields Slack sends today
  (`metadata`, `response_metadata`, `edited`, ...), so extra fields are allowed, required
  fields and types are not negotiable;
- `items: [A, B]` on a schema that is not an array is read as `anyOf: [A, B]`: the spec
  uses it that way for "one of" (`bot_id`, `tz`, `objs_conversation`, `objs_user`), and
  Draft 4 would otherwise ignore it on objects and check nothing;
- two errata, each named in `ERRATA`, where the spec contradicts what Slack sends.

Error answers are checked for shape (`ok: false`, `error` string) and their code must be in
the method's documented enum or in `NEWER_ERROR_CODES`, each with its reason.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# No stubs for jsonschema in the venv (types-jsonschema is not a dev dependency).
from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT4

SPEC_PATH = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "specs"
    / ("slack-web-api.swagger2.json")
)
SPEC_URI = "urn:slack-web-api-swagger2"


@dataclass(frozen=True)
class Erratum:
    """One place the published spec contradicts Slack, and the fix applied to our copy."""

    method: str
    path: tuple[str, ...]
    replacement: dict[str, Any]
    why: str


ERRATA = (
    Erratum(
        "conversations.history",
        ("properties", "messages"),
        {"type": "array", "items": {"$ref": "#/definitions/objs_message"}},
        "the spec demands minItems 1 and uniqueItems, but an empty channel answers []",
    ),
    Erratum(
        "chat.update",
        ("properties", "message", "properties", "blocks"),
        {"type": "array", "items": {"type": "object"}},
        "the spec types message.blocks as an object; Slack's blocks are always an array",
    ),
)

NEWER_ERROR_CODES = {
    "invalid_blocks": "documented for chat.* since Block Kit (2019), missing from the enum",
    "invalid_blocks_format": "documented for chat.* since Block Kit, missing from the enum",
    "invalid_metadata_format": "message metadata (2022) postdates the spec",
    "ratelimited": "the 429 body Slack sends (the enum spells it rate_limited)",
    "thread_not_found": "stand-in choice: refuse thread_ts naming no message (Slack varies)",
    "invalid_cursor": "documented for cursor-paginated methods, missing from the enum",
    "not_in_channel": "documented for conversations.history, missing from the enum",
}


def _floor(node: Any) -> Any:
    """The spec with extra properties allowed and `items` lists on objects as anyOf."""
    if isinstance(node, list):
        return [_floor(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _floor(value) for key, value in node.items()}
    if out.get("additionalProperties") is False:
        del out["additionalProperties"]
    if isinstance(out.get("items"), list) and out.get("type") != "array":
        out["anyOf"] = out.pop("items")
    return out


class SlackSpec:
    """Slack's Web API spec, loaded once, answering "does this body satisfy method X?"."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.spec = _floor(copy.deepcopy(raw))
        for path in self.spec["paths"].values():
            for operation in path.values():
                # Codes are judged against the enum plus NEWER_ERROR_CODES in `problems`.
                error = operation["responses"]["default"]["schema"].get("properties", {})
                if "error" in error:
                    error["error"] = {"type": "string"}
        for erratum in ERRATA:
            target = self._response(erratum.method, "200")
            for key in erratum.path[:-1]:
                target = target[key]
            target[erratum.path[-1]] = erratum.replacement
        resource = DRAFT4.create_resource(self.spec)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)

    @classmethod
    def load(cls, path: Path = SPEC_PATH) -> SlackSpec:
        """Read the spec file."""
        return cls(json.loads(path.read_text()))

    def methods(self) -> set[str]:
        """Every method the spec describes."""
        return {path.strip("/") for path in self.raw["paths"]}

    def _operation(self, method: str) -> tuple[str, dict[str, Any]]:
        [(verb, operation)] = self.spec["paths"][f"/{method}"].items()
        return verb, operation

    def _response(self, method: str, status: str) -> dict[str, Any]:
        schema: dict[str, Any] = self._operation(method)[1]["responses"][status]["schema"]
        return schema

    def error_codes(self, method: str) -> set[str]:
        """The error codes the spec lists for a method (empty when it lists none)."""
        [operation] = self.raw["paths"][f"/{method}"].values()
        schema = operation["responses"]["default"]["schema"]
        return set(schema.get("properties", {}).get("error", {}).get("enum", []))

    def problems(self, method: str, body: dict[str, Any]) -> list[str]:
        """Why `body` does not satisfy the spec for `method`'s answer (empty: it does)."""
        verb, _ = self._operation(method)
        status = "200" if body.get("ok") is True else "default"
        pointer = f"/paths/~1{method}/{verb}/responses/{status}/schema"
        problems: list[str] = []
        listed = self.error_codes(method)
        # A method whose spec lists no codes (views.*) leaves the code unjudged.
        if (
            status == "default"
            and listed
            and body.get("error") not in (listed | NEWER_ERROR_CODES.keys())
        ):
            problems.append(
                f"error code {body.get('error')!r} is neither in the spec nor explained"
            )
        schema = {"$ref": f"{SPEC_URI}#{pointer}"}
        validator = Draft4Validator(schema, registry=self._registry, format_checker=FormatChecker())
        for error in validator.iter_errors(body):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"{where}: {error.message}")
        return problems
