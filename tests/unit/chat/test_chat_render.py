from __future__ import annotations

from app.chat.render import close_open_fence, render_markdown


def test_markdown_code_blocks_get_copy_links() -> None:
    rendered = render_markdown("Text **bold**\n\n```python\nif a < b:\n    print('&')\n```\n\n```\nsecond\n```")
    assert "<strong>bold</strong>" in rendered.html
    assert rendered.code_blocks == ("if a < b:\n    print('&')\n", "second\n")
    assert 'href="copy:0"' in rendered.html and 'href="copy:1"' in rendered.html


def test_raw_html_from_the_model_is_shown_as_text() -> None:
    rendered = render_markdown('<img src="http://example.com/x.png"> <script>alert(1)</script>')
    assert "<img" not in rendered.html and "<script" not in rendered.html
    assert "&lt;script&gt;" in rendered.html


def test_streaming_closes_an_open_fence() -> None:
    assert close_open_fence("a\n```py\nx = 1") == "a\n```py\nx = 1\n```"
    assert close_open_fence("a\n```\nx\n```\n") == "a\n```\nx\n```\n"
    rendered = render_markdown("see:\n```\nunfinished", streaming=True)
    assert rendered.code_blocks == ("unfinished\n",)

