"""A lab's README.md as HTML for the page, with markdown-it-py.

Raw HTML in the markdown is escaped, not passed through (``html=False``):
the instructions are trusted today, but a lab written by an instructor
should not be able to put a script on a trainee's page.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    # "commonmark" plus tables and strikethrough, as GitHub shows a README.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"])


def render(markdown: str) -> str:
    """HTML for ``markdown``; a level-one heading is dropped, since the page shows the title itself."""
    lines = markdown.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return _renderer().render("\n".join(lines))
