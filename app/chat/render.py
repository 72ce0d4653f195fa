"""Markdown of a chat message to HTML for display (no Qt). Raw HTML in model output is shown as text,
never interpreted; every code block gets a `copy:N` link whose code is returned beside the HTML."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import markdown

_CODE = re.compile(r"<pre><code(?: class=\"[^\"]*\")?>(.*?)</code></pre>", re.DOTALL)
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    html: str
    code_blocks: tuple[str, ...]


class _NoRawHtml(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")


def _converter() -> markdown.Markdown:
    return markdown.Markdown(extensions=["fenced_code", "tables", "sane_lists", _NoRawHtml()])


_md = _converter()


def close_open_fence(text: str) -> str:
    """A reply still streaming may have opened a code block it has not closed yet: close it for display."""
    if len(_FENCE.findall(text)) % 2:
        marker = _FENCE.findall(text)[-1]
        return text + ("\n" if not text.endswith("\n") else "") + marker
    return text


def render_markdown(text: str, *, streaming: bool = False) -> RenderedMessage:
    source = close_open_fence(text) if streaming else text
    _md.reset()
    body = _md.convert(source)
    blocks: list[str] = []

    def add_copy_link(match: re.Match[str]) -> str:
        blocks.append(html.unescape(match.group(1)))
        index = len(blocks) - 1
        return (f'<p class="copy"><a href="copy:{index}">Copy code</a></p>'
                f'<pre style="background-color: rgba(128,128,128,40); padding: 6px">{match.group(0)[5:]}')

    body = _CODE.sub(add_copy_link, body)
    return RenderedMessage(body, tuple(blocks))
