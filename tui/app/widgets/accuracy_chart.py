"""Accuracy against mean time, one point per strategy, drawn with text cells.

A scatter of a handful of points (one per strategy of an eval run) needs no plotting library:
the plot area is a character grid, each strategy a numbered marker at (mean seconds, accuracy)
with its 95 % interval as a vertical bar, the legend below. The x axis starts at 0 so that
"twice as slow" looks twice as far. Strategy names come from the store and are shown as
``Text`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from tui.sanitize import clean_line

#: Marker styles, one per strategy in order (cycled).
STYLES = ("bold cyan", "bold magenta", "bold green", "bold yellow", "bold red", "bold blue")
Y_LABEL_W = 5


def _nice_max(value: float) -> float:
    """A round upper bound for the time axis (1, 2, 5 × 10^k)."""
    if value <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 < value:
        scale *= 10
    while scale > value * 10:
        scale /= 10
    for step in (1, 2, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def render_chart(
    points: Sequence[tuple[str, float, float, float, float]], width: int, height: int
) -> Text:
    """The chart as Text. ``points``: (label, mean_s, accuracy, ci_low, ci_high)."""
    legend_rows = (len(points) + 1) // 2
    plot_h = max(3, height - 2 - legend_rows)
    plot_w = max(10, width - Y_LABEL_W - 2)
    x_max = _nice_max(max((p[1] for p in points), default=1.0) * 1.05)
    grid: list[list[tuple[str, str]]] = [[(" ", "")] * plot_w for _ in range(plot_h)]

    def row_of(acc: float) -> int:
        return plot_h - 1 - int(round(acc * (plot_h - 1)))

    def col_of(seconds: float) -> int:
        return min(plot_w - 1, int(round(seconds / x_max * (plot_w - 1))))

    for i, (_label, mean_s, acc, low, high) in enumerate(points):
        style = STYLES[i % len(STYLES)]
        col = col_of(mean_s)
        for r in range(row_of(high), row_of(low) + 1):
            if grid[r][col][0] == " ":
                grid[r][col] = ("│", style)
        grid[row_of(acc)][col] = (str(i + 1) if i < 9 else "*", style)
    text = Text()
    for r in range(plot_h):
        frac = 1 - r / (plot_h - 1)
        label = f"{frac * 100:3.0f}%" if r in (0, plot_h - 1) or r == (plot_h - 1) // 2 else ""
        text.append(f"{label:>{Y_LABEL_W - 1}} ┤", style="dim")
        for ch, style in grid[r]:
            text.append(ch, style=style or None)
        text.append("\n")
    text.append(" " * (Y_LABEL_W - 1) + " └" + "─" * plot_w + "\n", style="dim")
    axis = f"0 s{'mean time':^{max(plot_w - 12, 0)}}{x_max:g} s"
    text.append(" " * (Y_LABEL_W + 1) + axis[:plot_w] + "\n", style="dim")
    for i, (label, mean_s, acc, _low, _high) in enumerate(points):
        text.append(f" {i + 1 if i < 9 else '*'} ", style=STYLES[i % len(STYLES)])
        text.append(f"{clean_line(label, 16)} {acc * 100:.0f}% {mean_s:.1f} s")
        text.append("\n" if i % 2 else "   ")
    return text


class AccuracyChart(Widget):
    """Accuracy (with its interval) against mean seconds, per strategy."""

    DEFAULT_CSS = """
    AccuracyChart { height: 1fr; min-height: 7; max-height: 14; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.points: list[tuple[str, float, float, float, float]] = []

    def set_points(self, points: Sequence[tuple[str, float, float, float, float]]) -> None:
        self.points = list(points)
        self.refresh()

    def render(self) -> Text:
        if not self.points:
            return Text("No results yet.", style="dim")
        return render_chart(self.points, self.size.width, self.size.height)
