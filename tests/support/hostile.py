"""Hypothesis strategies for hostile input (issue #6): text, JSON junk and ADF documents.

Shared by the fuzz tests of the Jira mapping, the webhooks and the Slack receiver, so they
all throw the same things: wiki markup, Slack and Jira mentions, emoji, right-to-left text,
NUL and other control characters, lone surrogates, SQL and format strings, huge strings, and
ADF documents nested far deeper than the recursion limit.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Text that means something to Jira's wiki renderer, to Slack, or to a terminal.
HOSTILE_FRAGMENTS = [
    "[~accountid:5b10a2844c20165700ede21g]",
    "[~admin]",
    "@here",
    "<!channel>",
    "<@U0PM00001>",
    "{code}x{code}",
    "{noformat}",
    "[click|javascript:alert(1)]",
    "h1. Title",
    "*bold* _it_ -strike- +under+ ^sup^ ~sub~",
    "||a||b||\n|1|2|",
    "!http://evil.example/x.png!",
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "שלום עולם",
    "👩\u200d👩\u200d👧\u200d👦🏳️\u200d🌈",
    ":white_check_mark:",
    "\x00",
    "\ud800",  # a lone surrogate: valid in JSON escapes, not encodable as UTF-8
    "\r\n\t",
    "Robert'); DROP TABLE requests;--",
    "%s %(x)s {0} {x}",
]
hostile_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(HOSTILE_FRAGMENTS) | st.text(max_size=10), min_size=1, max_size=8).map(
        "".join
    ),
    st.sampled_from(HOSTILE_FRAGMENTS),
    st.integers(1_000, 200_000).map(lambda n: ("x" * 9 + " ") * (n // 10)),
)
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def adf_nodes(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """ADF nodes: text, mentions, emoji, hard breaks and containers nested up to `depth`."""
    leaves = st.one_of(
        st.builds(lambda t: {"type": "text", "text": t}, hostile_text),
        st.builds(
            lambda t: {"type": "mention", "attrs": {"id": t, "text": "@" + t}}, st.text(max_size=30)
        ),
        st.builds(
            lambda t: {"type": "emoji", "attrs": {"shortName": f":{t}:", "text": "😀"}},
            st.text(max_size=10),
        ),
        st.just({"type": "hardBreak"}),
        st.builds(lambda v: {"type": "text", "text": v}, json_junk),
        json_junk.map(lambda v: {"type": "paragraph", "content": v}),
    )
    if depth == 0:
        return leaves
    kinds = st.sampled_from(["paragraph", "bulletList", "listItem", "blockquote", "table", "doc"])
    return st.one_of(
        leaves,
        st.builds(
            lambda kind, content: {"type": kind, "content": content},
            kinds,
            st.lists(st.deferred(lambda: adf_nodes(depth - 1)), max_size=3),
        ),
    )


def deep_adf(depth: int) -> dict[str, Any]:
    """An ADF document nested `depth` paragraphs deep, with text at the bottom."""
    node: dict[str, Any] = {"type": "text", "text": "bottom"}
    for _ in range(depth):
        node = {"type": "paragraph", "content": [node]}
    return {"type": "doc", "version": 1, "content": [node]}


adf_docs = st.builds(
    lambda content: {"type": "doc", "version": 1, "content": content},
    st.lists(adf_nodes(4), max_size=4),
)
