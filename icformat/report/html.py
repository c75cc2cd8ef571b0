"""The report as one HTML file: inline CSS, every picture a ``data:`` URI, no script, no link out."""
from __future__ import annotations

from html import escape
from typing import Iterable

CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:8px}.card{width:120px;font-size:11px;word-break:break-all}
.card img{width:96px;height:96px;object-fit:contain;background:#eee;display:block}
.pair{display:flex;flex-wrap:wrap;gap:6px;border:1px solid #ddd;padding:6px;font-size:11px;width:204px}
.pair img{width:96px;height:96px;object-fit:contain;background:#eee}.pair div{width:100%;word-break:break-all}
.error{color:#b00020}.warning{color:#a15c00}.note{color:#555}.muted{color:#777;font-size:90%}
.chart{max-width:100%}
"""


def page(title: str, sections: Iterable[str]) -> str:
    """The whole document."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1>" + "".join(sections) + "</body></html>\n")


def section(title: str, *parts: str, anchor: str = "") -> str:
    ident = f' id="{escape(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{escape(title)}</h2>" + "".join(parts) + "</section>"


def heading(text: str, level: int = 3) -> str:
    return f"<h{level}>{escape(text)}</h{level}>"


def paragraph(text: str, css: str = "") -> str:
    return f'<p class="{css}">{escape(text)}</p>' if css else f"<p>{escape(text)}</p>"


def chart(src: str, alt: str) -> str:
    return f'<img class="chart" src="{src}" alt="{escape(alt)}">'


def table(header: list[str], rows: Iterable[list], *, left: int = 1, data: str = "") -> str:
    """A table; the first ``left`` columns are left-aligned text; ``data`` names it for tests."""
    attr = f' data-table="{escape(data)}"' if data else ""
    head = "".join(f'<th class="{"l" if i < left else ""}">{escape(str(h))}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(_cell(v, i < left) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table{attr}><tr>{head}</tr>{body}</table>"


def _cell(value, left: bool) -> str:
    if isinstance(value, float):
        text = f"{value:.4f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    raw = f' data-value="{value}"' if isinstance(value, int) else ""
    return f'<td class="{"l" if left else ""}"{raw}>{escape(text)}</td>'


def card(thumb) -> str:
    note = f'<br><span class="muted">{escape(thumb.note)}</span>' if thumb.note else ""
    return (f'<div class="card"><img src="{thumb.src}" alt="{escape(thumb.name)}" title="{escape(thumb.uri)}">'
            f"<b>{escape(thumb.label)}</b><br>{escape(thumb.name)}{note}</div>")


def grid(thumbs: Iterable) -> str:
    return '<div class="grid">' + "".join(card(t) for t in thumbs) + "</div>"


def pair(left, right, caption: str) -> str:
    return (f'<div class="pair"><img src="{left.src}" alt="{escape(left.name)}" title="{escape(left.uri)}">'
            f'<img src="{right.src}" alt="{escape(right.name)}" title="{escape(right.uri)}">'
            f"<div>{escape(caption)}<br>{escape(left.uri)}<br>{escape(right.uri)}</div></div>")


def problem_line(severity: str, where: str, message: str, thumb=None) -> str:
    image = f'<img src="{thumb.src}" alt="" style="width:48px;height:48px;object-fit:contain;vertical-align:middle"> ' \
        if thumb is not None else ""
    return f'<li class="{escape(severity)}">{image}<b>{escape(severity)}</b> {escape(where)}: {escape(message)}</li>'
