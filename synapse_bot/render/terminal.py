"""Slack messages as a person reads them, for a terminal: the Markdown the bot writes, styled with rich.

Slack shows a message line by line (a single newline is a line break, not a paragraph join as in CommonMark), so
each line is parsed on its own with markdown-it (rich's own Markdown parser) and its inline Markdown becomes rich
styles: bold, italics, code, and links that show their label and open the full URL where the terminal supports
hyperlinks. Bare URLs are shortened. Code fences are shown verbatim; quotes get a bar; list markers become bullets.
Pure: text in, `rich.text.Text` out; printing is the caller's job.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.style import Style
from rich.text import Text

MAX_URL_CHARS = 48
LINK = Style(color="blue", underline=True)
CODE = Style(color="cyan")
QUOTE_BAR = Style(color="bright_black")

_STYLES = {"strong": Style(bold=True), "em": Style(italic=True), "s": Style(strike=True)}
_BARE_URL = re.compile(r"https?://[^\s<>()]+[^\s<>().,;:!?'\"]")
_LIST_ITEM = re.compile(r"^(\s*)[-*+] (?=\S)")
_HEADING = re.compile(r"^#{1,6} ")
_QUOTE = re.compile(r"^(?:&gt;|>) ?")
_FENCE = "```"

_parser = MarkdownIt("commonmark").enable("strikethrough")


def short_url(url: str, limit: int = MAX_URL_CHARS) -> str:
    """`https://github.com/acme/widgets/pull/5/files#diff-3698bdf4…` → `github.com/acme/widgets/pull/5/files#dif…`."""
    shown = re.sub(r"^https?://", "", url).removeprefix("www.").rstrip("/")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def slack_text(text: str) -> Text:
    """A whole message: every line styled, joined with newlines."""
    lines: list[Text] = []
    in_fence = False
    for line in text.split("\n"):
        if line.strip().startswith(_FENCE):
            in_fence = not in_fence
            rest = line.strip()[len(_FENCE) :].strip()
            if rest and not in_fence:  # ```code``` on one line
                lines.append(Text(rest.removesuffix(_FENCE), style=CODE))
            continue
        lines.append(Text(line, style=CODE) if in_fence else styled_line(line))
    return Text("\n").join(lines)


def styled_line(line: str) -> Text:
    """One line of Markdown as styled text, keeping its indentation."""
    if quoted := _QUOTE.match(line):
        return Text.assemble(Text("▌ ", style=QUOTE_BAR), styled_line(line[quoted.end() :]))
    if _HEADING.match(line):
        heading = styled_line(_HEADING.sub("", line))
        heading.stylize("bold")
        return heading
    indent = line[: len(line) - len(line.lstrip(" "))]
    body = _LIST_ITEM.sub(r"\1• ", line)[len(indent) :]
    out = Text(indent)
    for token in _inline_tokens(body):
        out.append_text(token)
    return out


def _inline_tokens(line: str) -> list[Text]:
    """The inline Markdown of one line as styled pieces (markdown-it tokens → rich styles)."""
    tokens: list[Token] = []
    for block in _parser.parseInline(line):
        tokens.extend(block.children or [])
    pieces: list[Text] = []
    stack: list[Style] = []
    for token in tokens:
        kind = token.type
        if kind.endswith("_open") and kind.removesuffix("_open") in _STYLES:
            stack.append(_STYLES[kind.removesuffix("_open")])
        elif kind == "link_open":
            stack.append(LINK + Style(link=str(token.attrs.get("href", ""))))
        elif kind.endswith("_close") and stack:
            stack.pop()
        elif kind == "code_inline":
            pieces.append(Text(token.content, style=_combined(*stack, CODE)))
        elif kind == "text" and stack and stack[-1].link and token.content == stack[-1].link:
            pieces.append(Text(short_url(token.content), style=_combined(*stack)))  # <https://…> autolink
        elif kind in ("text", "html_inline"):
            pieces.extend(_with_short_urls(token.content, _combined(*stack)))
        elif kind == "image":
            pieces.append(Text(token.content or "image", style=_combined(*stack)))
        elif kind in ("softbreak", "hardbreak"):
            pieces.append(Text(" "))
    return pieces


def _with_short_urls(text: str, style: Style) -> list[Text]:
    """Plain text where every bare URL is shortened (and still opens the full URL in a terminal that links)."""
    pieces: list[Text] = []
    last = 0
    for match in _BARE_URL.finditer(text):
        pieces.append(Text(text[last : match.start()], style=style))
        url = match.group(0)
        pieces.append(Text(short_url(url), style=_combined(style, LINK, Style(link=url))))
        last = match.end()
    pieces.append(Text(text[last:], style=style))
    return pieces


def _combined(*styles: Style) -> Style:
    return Style.combine(styles) if styles else Style.null()
