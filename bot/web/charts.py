"""The analytics charts, drawn on the server with matplotlib as PNG images (the CSP allows no inline script).

matplotlib is imported on first use (it takes a second), and each figure is its own `Figure`
object, not pyplot's global state, so charts can be drawn in worker threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from storage.insights import DailyFigures, HourOfWeek, PlatformFigures, PostFigure

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Colour-blind-safe (Okabe-Ito), the same label always the same colour.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
SENTIMENT_COLOURS = {"positive": "#009E73", "neutral": "#999999", "negative": "#D55E00", "": "#DDDDDD"}


def _figure(height: float = 2.8) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.2, height), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=8)
    return figure, axes


def _png(figure: Any) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _empty(axes: Any, text: str = "nothing in this range") -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="#666666")
    axes.set_xticks([])
    axes.set_yticks([])


def _day_axis(axes: Any, days: Sequence[date]) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def stacked_days(days: Sequence[date], series: dict[str, list[int]], title: str, colours: dict[str, str] | None = None) -> bytes:
    """Counts per day, one stacked bar a day, a colour per label (the largest labels first)."""
    figure, axes = _figure()
    axes.set_title(title, fontsize=10, loc="left")
    if not days or not any(sum(values) for values in series.values()):
        _empty(axes)
        return _png(figure)
    bottom = [0] * len(days)
    ordered = sorted(series.items(), key=lambda item: -sum(item[1]))
    for i, (label, values) in enumerate(ordered):
        colour = (colours or {}).get(label, PALETTE[i % len(PALETTE)])
        axes.bar(days, values, bottom=bottom, width=0.9, label=label or "(none)", color=colour)
        bottom = [b + v for b, v in zip(bottom, values)]
    _day_axis(axes, days)
    axes.legend(fontsize=7, frameon=False, ncols=min(4, len(ordered)), loc="upper left", bbox_to_anchor=(0, -0.12))
    return _png(figure)


def answer_time(figures: DailyFigures) -> bytes:
    """The median minutes from a message to its sent reply, per day."""
    figure, axes = _figure(2.4)
    axes.set_title("Median answer time (minutes)", fontsize=10, loc="left")
    points = [(d, m) for d, m in zip(figures.days, figures.median_answer_minutes) if m is not None]
    if not points:
        _empty(axes, "no replies sent in this range")
        return _png(figure)
    axes.plot([d for d, _ in points], [m for _, m in points], marker="o", markersize=3, linewidth=1.2, color=PALETTE[0])
    axes.set_ylim(bottom=0)
    _day_axis(axes, figures.days)
    return _png(figure)


def who_answered(figures: DailyFigures) -> bytes:
    series = {"automatic": figures.automatic_replies, "approved or written by you": figures.owner_replies, "escalated": figures.escalated}
    colours = {"automatic": PALETTE[0], "approved or written by you": PALETTE[1], "escalated": PALETTE[3]}
    return stacked_days(figures.days, series, "Auto-replied, approved, escalated", colours)


def post_engagement(posts: Sequence[PostFigure]) -> bytes:
    """Each measured post's interactions at the time it went out, a colour per platform."""
    figure, axes = _figure()
    axes.set_title("Interactions per post", fontsize=10, loc="left")
    measured = [p for p in posts if p.interactions is not None]
    if not measured:
        _empty(axes, "no measured posts in this range")
        return _png(figure)
    for i, platform in enumerate(sorted({p.platform for p in measured})):
        mine = [p for p in measured if p.platform == platform]
        axes.scatter([p.published_at for p in mine], [p.interactions for p in mine], s=10, label=platform,
                     color=PALETTE[i % len(PALETTE)], alpha=0.8)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.12), ncols=4)
    return _png(figure)


def platforms(rows: Sequence[PlatformFigures]) -> bytes:
    """Mean interactions a post, per platform, with the number of posts on each bar."""
    figure, axes = _figure(2.4)
    axes.set_title("Mean interactions a post, by platform", fontsize=10, loc="left")
    measured = [r for r in rows if r.mean_interactions is not None]
    if not measured:
        _empty(axes, "no measured posts in this range")
        return _png(figure)
    bars = axes.barh([r.platform for r in measured], [r.mean_interactions or 0 for r in measured], color=PALETTE[0])
    axes.bar_label(bars, labels=[f"{r.measured} posts" for r in measured], fontsize=7, padding=3)
    axes.invert_yaxis()
    return _png(figure)


def hour_of_week(hours: HourOfWeek, title: str = "Mean interactions by hour of the week") -> bytes:
    """A 7 x 24 heatmap; hours without a measured post are left blank."""
    import numpy as np

    figure, axes = _figure(2.6)
    axes.set_title(title, fontsize=10, loc="left")
    grid = np.array([[np.nan if v is None else v for v in row] for row in hours.mean], dtype=float)
    if np.isnan(grid).all():
        _empty(axes, "no measured posts in this range")
        return _png(figure)
    image = axes.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
    axes.set_yticks(range(7), DAYS)
    axes.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)])
    figure.colorbar(image, ax=axes, shrink=0.9).ax.tick_params(labelsize=7)
    return _png(figure)
