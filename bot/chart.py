"""The insights chart: incidents per week stacked by severity, with the week's median time to
resolve as a line. A PNG of a fixed size, drawn with matplotlib's Agg backend (no display).

Readable on Slack's dark and light themes alike: the image carries its own solid card
background (light grey-blue) with dark text, rather than a transparent one whose black text
would vanish on a dark theme; the severity colours are mid-tones that stay apart on it."""

from __future__ import annotations

import io
from collections.abc import Sequence

from bot.insights import Week
from bot.severity import Severity

WIDTH, HEIGHT, DPI = 1200, 600, 100
CARD = "#eef1f5"
INK = "#1d1c1d"
GRID = "#c9ced6"
COLOURS = {
    Severity.P1: "#c0392b",
    Severity.P2: "#e67e22",
    Severity.P3: "#c9a30f",
    Severity.P4: "#7f8c99",
}
LINE = "#1f5fa8"


def render(weeks: Sequence[Week], title: str) -> bytes:
    """The chart as PNG bytes, WIDTH × HEIGHT pixels."""
    # Imported here: matplotlib costs start-up time and memory the bot needs only for charts.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure of its own (not pyplot): no global state, safe in a worker thread.
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=CARD)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1, facecolor=CARD)
    positions = list(range(len(weeks)))
    bottom = [0] * len(weeks)
    for severity in Severity:
        counts = [w.counts.get(severity, 0) for w in weeks]
        axes.bar(
            positions,
            counts,
            bottom=bottom,
            color=COLOURS[severity],
            label=severity.value,
            width=0.7,
            zorder=2,
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_ylabel("incidents declared", color=INK)
    axes.set_ylim(0, max([*bottom, 1]) * 1.15)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.grid(axis="y", color=GRID, zorder=0)
    step = max(1, len(weeks) // 13)  # a readable number of week labels, a year or a month
    axes.set_xticks(positions[::step], [w.start.strftime("%d %b") for w in weeks][::step])

    hours = axes.twinx()
    mttr = [w.mttr_median / 3600 if w.mttr_median is not None else None for w in weeks]
    points = [(p, v) for p, v in zip(positions, mttr, strict=True) if v is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        hours.plot(xs, ys, color=LINE, marker="o", linewidth=2.5, label="median MTTR (h)")
        hours.set_ylim(0, max(ys) * 1.25 or 1)
    else:
        hours.set_ylim(0, 1)
    hours.set_ylabel("median time to resolve (hours)", color=LINE)

    for ax in (axes, hours):
        ax.tick_params(colors=INK)
        for spine in ax.spines.values():
            spine.set_color(GRID)
    bars, labels = axes.get_legend_handles_labels()
    lines, line_labels = hours.get_legend_handles_labels()
    legend = axes.legend(
        bars + lines,
        labels + line_labels,
        loc="upper left",
        ncol=5,
        frameon=False,
        labelcolor=INK,
    )
    legend.set_zorder(5)
    axes.set_title(title, color=INK, fontsize=14, loc="left")
    figure.subplots_adjust(left=0.07, right=0.92, top=0.9, bottom=0.1)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor=CARD)
    return buffer.getvalue()
