"""Rendering a report, given as a list of blocks, to Markdown and to self-contained HTML.

A block is one of ``("h1", text)``, ``("h2", text)``, ``("p", text)``,
``("table", header, rows)``, ``("list", items)`` and
``("image", file_name, caption)``. Text may use Markdown's inline code
spans (backticks), which the HTML renderer turns into ``<code>``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.45rem; text-align: left; overflow-wrap: anywhere; }
th { background: #f3f3f3; }
img { max-width: 100%; height: auto; }
code { background: #f3f3f3; padding: 0 0.2rem; overflow-wrap: anywhere; }
"""


def _inline(text: str) -> str:
    """Escape text for HTML and turn `code` spans into <code> elements."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(
        f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part) for i, part in enumerate(parts)
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(blocks: list[tuple]) -> str:
    lines: list[str] = []
    for kind, *content in blocks:
        if kind == "h1":
            lines += [f"# {content[0]}", ""]
        elif kind == "h2":
            lines += [f"## {content[0]}", ""]
        elif kind == "p":
            lines += [content[0], ""]
        elif kind == "list":
            lines += [f"- {item}" for item in content[0]] + [""]
        elif kind == "table":
            header, rows = content
            lines.append("| " + " | ".join(_cell(cell) for cell in header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
            lines.append("")
        elif kind == "image":
            file_name, caption = content
            lines += [f"![{caption}]({file_name})", ""]
    return "\n".join(lines)


def render_html(blocks: list[tuple], folder: Path) -> str:
    """Render the blocks as one HTML page with every image embedded, readable with no server."""
    title = next((content[0] for kind, *content in blocks if kind == "h1"), "ganlab report")
    body: list[str] = []
    for kind, *content in blocks:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{_inline(content[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{_inline(content[0])}</p>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in content[0]) + "</ul>")
        elif kind == "table":
            header, rows = content
            head = "".join(f"<th>{_inline(cell)}</th>" for cell in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>" for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "image":
            file_name, caption = content
            data = base64.b64encode((Path(folder) / file_name).read_bytes()).decode()
            body.append(f'<img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">')
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
