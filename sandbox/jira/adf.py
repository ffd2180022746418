"""Atlassian Document Format, just enough to serve v3 rich-text fields from wiki-markup text.

v2 carries descriptions, text areas and comment bodies as wiki-markup strings, v3 as ADF
documents. The stand-in stores text and converts at the edge: paragraphs are separated by a
blank line, lines inside a paragraph by hard breaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


def from_text(text: str) -> dict[str, Any]:
    """An ADF document with one paragraph per blank-line-separated block of `text`."""
    content: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        nodes: list[dict[str, Any]] = []
        for index, line in enumerate(block.split("\n")):
            if index:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def to_text(doc: Mapping[str, Any]) -> str:
    """The plain text of an ADF document: text nodes joined, blocks split by blank lines."""
    if doc.get("type") != "doc":
        raise ValueError(NOT_ADF)
    blocks = [_inline(node) for node in doc.get("content") or [] if isinstance(node, Mapping)]
    return "\n\n".join(blocks)


def _inline(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    children = [c for c in node.get("content") or [] if isinstance(c, Mapping)]
    joiner = "\n" if kind in ("bulletList", "orderedList", "listItem") else ""
    return joiner.join(_inline(child) for child in children)
