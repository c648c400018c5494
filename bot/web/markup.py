"""Text that others typed (or a model wrote), made inert inside Markdown.

What trainees type is shown to trainers (transcripts, the dashboard) inside
Markdown that the app writes; so is what the customer model and the grader
write, which a trainee can steer. Pasted raw, a reply could forge a heading,
a customer line, a grade block, a table row, a link or a remote image that
loads in the trainer's browser. :func:`inert` escapes exactly what
CommonMark and GFM (the Markdown Chainlit renders) would read as markup, so
the text is shown as itself, on the line it was given, and nothing else.
Ordinary punctuation stays as typed, so the downloaded .md file stays
readable.
"""

from __future__ import annotations

import html
import re

#: Always markup, anywhere in a line: escapes, code, emphasis, strikethrough,
#: links and images, raw HTML and autolinks, entities, tables, headings.
_ANYWHERE = re.compile(r"([\\`*_~\[\]<>&|#])")
#: Markup only at the start of a line: lists, setext underlines, blockquotes
#: (">" is escaped anywhere already), ordered lists ("1." or "1)").
_LINE_START = re.compile(r"^([-+=])|^(\d{1,9})([.)])")
#: Bare links GFM would turn into anchors: www., scheme://, e-mail addresses.
_AUTOLINK = re.compile(r"(?i)(www)(\.)|(:)(//)|(@)")


def _autolinks(match: re.Match[str]) -> str:
    www, dot, colon, slashes, at = match.groups()
    if www:
        return f"{www}\\{dot}"
    if colon:
        return f"\\{colon}{slashes}"
    return f"\\{at}"


def _line(line: str) -> str:
    line = _AUTOLINK.sub(_autolinks, _ANYWHERE.sub(r"\\\1", line.strip()))
    return _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line)


def inert(text: str) -> str:
    """``text`` as Markdown that renders as exactly that text, inline: its
    lines are kept as hard line breaks within one paragraph (never a new
    block), blank lines dropped."""
    lines = [_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\\\n".join(line for line in lines if line)


def plain_label(text: str) -> str:
    """``text`` for a chart label: Plotly reads a few HTML tags (links among
    them) in trace names, so they are escaped."""
    return html.escape(text, quote=False)
