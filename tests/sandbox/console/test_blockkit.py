"""Block Kit and mrkdwn to HTML: what the console draws, and that nothing typed becomes markup."""

from __future__ import annotations

from sandbox.console.blockkit import (
    ButtonTarget,
    ModalState,
    blocks_html,
    metadata_key,
    mrkdwn_html,
    submission_values,
)


def names(slack_id: str) -> str:
    return {"U0QA00001": "Priya Raman"}.get(slack_id, slack_id)


def test_mrkdwn_links_mentions_and_formatting() -> None:
    html = mrkdwn_html(
        "*<https://jira.example/browse/MODREQ-8|Tighten &amp; clarify>* by <@U0QA00001>"
        " in <#C0QA00001|qa-signoff>: _soon_, ~never~, `code`",
        names,
    )
    assert (
        '<b><a href="https://jira.example/browse/MODREQ-8" target="_blank" rel="noopener">'
        "Tighten &amp; clarify</a></b>"
    ) in html
    assert '<span class="mention">@Priya Raman</span>' in html
    assert '<span class="mention">#qa-signoff</span>' in html
    assert "<i>soon</i>" in html and "<s>never</s>" in html and "<code>code</code>" in html


def test_mrkdwn_quotes_fences_and_lines() -> None:
    html = mrkdwn_html("first\n&gt; quoted *bold*\nafter\n```\nraw *not bold* <b>\n```")
    assert html.startswith("first<br><blockquote>quoted <b>bold</b></blockquote>after")
    assert "<pre>raw *not bold* &lt;b&gt;</pre>" in html


def test_typed_text_never_becomes_markup() -> None:
    """Slack escapes <, > and &; whatever a person typed stays text, links stay http(s)."""
    html = mrkdwn_html(
        "&lt;script&gt;alert(1)&lt;/script&gt; <javascript:alert(1)|click> "
        '<https://x.example/"onmouseover="x|label>'
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert '"onmouseover="' not in html
    assert "&quot;onmouseover=&quot;" in html


def test_blocks_section_fields_context_divider_and_buttons() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "MODREQ-8"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Stage*"},
            "fields": [
                {"type": "mrkdwn", "text": "*Held by*\n<@U0QA00001>"},
                {"type": "plain_text", "text": "Round 1"},
            ],
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "due Mon"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "govflow.approve",
                    "value": '{"k":"MODREQ-8"}',
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                },
                {
                    "type": "button",
                    "action_id": "open",
                    "url": "https://jira.example/browse/MODREQ-8",
                    "text": {"type": "plain_text", "text": "Jira"},
                },
            ],
        },
    ]
    html = blocks_html(
        blocks,
        names=names,
        target=ButtonTarget("/slack/click", {"channel": "C1", "ts": "1.2", "back": "/x"}),
    )
    assert '<div class="bk-header">MODREQ-8</div>' in html
    assert '<div class="bk-field"><b>Held by</b><br><span class="mention">@Priya Raman' in html
    assert '<hr class="bk-divider">' in html
    assert '<div class="bk-context"><span>due Mon</span></div>' in html
    assert '<input type="hidden" name="action_id" value="govflow.approve">' in html
    assert '<input type="hidden" name="value" value="{&quot;k&quot;:&quot;MODREQ-8&quot;}">' in html
    assert 'class="btn btn-primary" type="submit" data-action="govflow.approve">Approve' in html
    assert '<a class="btn btn-default" href="https://jira.example/browse/MODREQ-8"' in html


def test_modal_inputs_keep_values_and_show_errors() -> None:
    blocks = [
        {
            "type": "input",
            "block_id": "recommendation",
            "label": {"type": "plain_text", "text": "Recommendation"},
            "element": {
                "type": "static_select",
                "action_id": "recommendation",
                "options": [
                    {"text": {"type": "plain_text", "text": "Proceed"}, "value": "PROCEED"},
                    {"text": {"type": "plain_text", "text": "Reject"}, "value": "REJECT"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "affected_sops",
            "optional": True,
            "label": {"type": "plain_text", "text": "Affected SOPs"},
            "element": {
                "type": "multi_static_select",
                "action_id": "affected_sops",
                "options": [
                    {"text": {"type": "plain_text", "text": "SOP-1"}, "value": "SOP-1"},
                    {"text": {"type": "plain_text", "text": "SOP-2"}, "value": "SOP-2"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "rationale",
            "label": {"type": "plain_text", "text": "Rationale"},
            "element": {"type": "plain_text_input", "action_id": "r", "multiline": True},
        },
    ]
    state = ModalState(
        values={"recommendation": "REJECT", "affected_sops": ["SOP-2"], "rationale": "<b>"},
        errors={"affected_sops": "Choose at least one affected SOP"},
    )
    html = blocks_html(blocks, modal=state)
    assert '<option value="REJECT" selected>Reject</option>' in html
    assert 'name="affected_sops" value="SOP-2" checked' in html
    assert 'name="affected_sops" value="SOP-1">' in html
    assert '<div class="error">Choose at least one affected SOP</div>' in html
    assert ">&lt;b&gt;</textarea>" in html
    posted = {"recommendation": ["PROCEED"], "affected_sops": ["SOP-1", "SOP-2"], "x": ["y"]}
    assert submission_values(blocks, posted) == {
        "recommendation": "PROCEED",
        "affected_sops": ["SOP-1", "SOP-2"],
        "rationale": "",
    }
    assert submission_values(blocks, {}) == {
        "recommendation": None,
        "affected_sops": [],
        "rationale": "",
    }


def test_metadata_key() -> None:
    assert metadata_key({"event_type": "govflow_request", "event_payload": {"k": "A-1"}}) == "A-1"
    assert metadata_key('{"k": "B-2"}') == "B-2"
    assert metadata_key("not json") is None
    assert metadata_key(None) is None
