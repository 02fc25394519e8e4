"""Slack Markdown rendered for a terminal: styles instead of markers, link labels, short URLs, Slack's line breaks."""

from __future__ import annotations

from synapse_bot.render.terminal import short_url, slack_text


def _spans(text: str) -> dict[str, str]:
    """Styled substrings of the rendered text → their style, as a readable string."""
    rendered = slack_text(text)
    return {rendered.plain[s.start : s.end]: str(s.style) for s in rendered.spans}


def test_markers_become_styles_and_links_show_their_label() -> None:
    text = "🔔 **down** in #alerts, `error` and _later_: [View message](https://sandbox.slack.com/archives/C1/p1)"
    rendered = slack_text(text)
    assert rendered.plain == "🔔 down in #alerts, error and later: View message"
    spans = _spans(text)
    assert "bold" in spans["down"] and "italic" in spans["later"] and "cyan" in spans["error"]
    assert "link https://sandbox.slack.com/archives/C1/p1" in spans["View message"]


def test_each_line_stays_a_line_with_its_indentation() -> None:
    text = "• **P1** bug · [#1 Crash](https://github.com/a/b/issues/1)\n    labels: `bug`\n\n- a list item"
    assert slack_text(text).plain == "• P1 bug · #1 Crash\n    labels: bug\n\n• a list item"


def test_bare_urls_are_shortened_but_still_open_the_full_url() -> None:
    url = "https://github.com/acme/widgets/pull/5/files#diff-3698bdf4a715076b4a8c8b0b01a94173fe8536c5bdd830fd5a8952R11"
    rendered = slack_text(f"see {url}.")
    assert rendered.plain.startswith("see github.com/acme/widgets/pull/5/files#") and rendered.plain.endswith("….")
    assert len(rendered.plain) < 60
    assert any(f"link {url}" in str(span.style) for span in rendered.spans)


def test_code_fences_are_verbatim_and_quotes_get_a_bar() -> None:
    rendered = slack_text("```\nx = **1**\n```\n> quoted **words**")
    assert rendered.plain == "x = **1**\n▌ quoted words"


def test_short_url() -> None:
    assert short_url("https://www.example.com/a/") == "example.com/a"
    assert short_url("http://x.io/" + "y" * 100, limit=20) == "x.io/" + "y" * 14 + "…"
