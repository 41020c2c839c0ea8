"""Small SVG charts drawn by the server: no script, nothing fetched, readable without colour."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

WIDTH, HEIGHT, PAD = 640, 180, 28


def days_back(n: int, today: date | None = None) -> list[str]:
    today = today or date.today()
    return [(today - timedelta(days=n - 1 - i)).isoformat() for i in range(n)]


def bar_chart(days: list[str], counts: dict[str, int], *, title: str) -> str:
    """Bars per day (every day shown, empty ones too), with the value in each bar's tooltip."""
    top = max([1, *counts.values()])
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / max(1, len(days))
    parts = [_frame(title, top)]
    for i, day in enumerate(days):
        n = counts.get(day, 0)
        h = inner_h * n / top
        x = PAD + i * step
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{PAD + inner_h - h:.1f}" width="{max(1.0, step - 2):.1f}" '
            f'height="{h:.1f}"><title>{escape(day)}: {n}</title></rect>'
        )
    parts.append(_day_labels(days, step))
    return _svg(title, parts)


def line_chart(days: list[str], values: dict[str, float], marks: dict[str, int], *, title: str) -> str:
    """A line of daily values in [-1, 1] (days without a value are skipped), a zero line, and a
    marker (with its count in the tooltip) on each day that had alerts."""
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / max(1, len(days))

    def y(v: float) -> float:
        return PAD + inner_h * (1 - (max(-1.0, min(1.0, v)) + 1) / 2)

    parts = [
        f'<text x="{PAD}" y="16" class="title">{escape(title)}</text>',
        f'<line class="axis" x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - PAD}" y2="{y(0):.1f}"/>',
        f'<text x="2" y="{y(1) + 4:.1f}" class="tick">+1</text><text x="2" y="{y(-1) + 4:.1f}" class="tick">-1</text>',
    ]
    points = [(PAD + (i + 0.5) * step, y(values[d]), d) for i, d in enumerate(days) if d in values]
    if points:
        parts.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _ in points) + '"/>')
        parts += [f'<circle class="dot" cx="{x:.1f}" cy="{yy:.1f}" r="3"><title>{escape(d)}: '
                  f'{values[d]:+.2f}</title></circle>' for x, yy, d in points]
    for i, day in enumerate(days):
        if marks.get(day):
            x = PAD + (i + 0.5) * step
            parts.append(f'<path class="alert" d="M{x - 5:.1f},{PAD - 4} L{x + 5:.1f},{PAD - 4} L{x:.1f},{PAD + 5} Z">'
                         f'<title>{escape(day)}: {marks[day]} alert(s)</title></path>')
    parts.append(_day_labels(days, step))
    return _svg(title, parts)


def _frame(title: str, top: int) -> str:
    return (f'<text x="{PAD}" y="16" class="title">{escape(title)}</text>'
            f'<text x="2" y="{PAD + 4}" class="tick">{top}</text>'
            f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>')


def _day_labels(days: list[str], step: float) -> str:
    every = max(1, len(days) // 6)
    return "".join(f'<text x="{PAD + i * step:.1f}" y="{HEIGHT - 8}" class="tick">{escape(d[5:])}</text>'
                   for i, d in enumerate(days) if i % every == 0)


def _svg(title: str, parts: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="{escape(title)}">' + "".join(parts) + "</svg>")
