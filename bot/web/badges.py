"""A message's badges (platform, intent, sentiment, offensiveness, language, status) as escaped HTML, built in
Python: every inbox entry has them, and a Jinja macro call per entry was most of the page's rendering."""

from __future__ import annotations

from markupsafe import Markup, escape

from storage.inbox_reads import MessageLine
from storage.models import Message


def _badge(text: str, css: str = "", title: str = "") -> str:
    classes = f"badge {escape(css)}" if css else "badge"
    titled = f' title="{escape(title)}"' if title else ""
    return f'<span class="{classes}"{titled}>{escape(text)}</span>'


def _scored(name: str, confidence: float | None) -> str:
    return name if confidence is None else f"{name} {confidence:.2f}"


def badges(m: Message | MessageLine, offensive_at: float) -> Markup:
    """Every label a message carries, each a `<span class="badge">`, every text escaped."""
    spans = [_badge(str(m.platform))]
    if m.intent:
        spans.append(_badge(_scored(m.intent, m.intent_confidence), "intent", "intent"))
    if m.sentiment:
        spans.append(_badge(_scored(m.sentiment, m.sentiment_confidence), m.sentiment, "sentiment"))
    if m.offensive_probability is not None:
        text = f"offensive {m.offensive_probability:.2f}"
        if m.offensive_probability >= offensive_at:
            spans.append(_badge(text, "offensive", "likely abusive"))
        else:
            spans.append(_badge(text, "", "how likely abusive"))
    if m.language:
        spans.append(_badge(m.language, "", "language"))
    spans.append(_badge(str(m.status), str(m.status), "status"))
    return Markup(f'<span class="badges">{"".join(spans)}</span>')
