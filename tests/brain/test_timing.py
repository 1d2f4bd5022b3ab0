"""The best-time model: it learns an audience's hours, keeps exploring, and says why."""

from __future__ import annotations

import re

import numpy as np

from brain.timing import EngagementModel, Observation


def hidden_rates() -> np.ndarray:
    """An audience that engages most around 19:00 every day, ten times less at night."""
    hours = np.arange(24)
    return np.tile(40 * np.exp(-0.5 * ((hours - 19) / 2.5) ** 2) + 4, (7, 1))


def test_learning_beats_random_hours_on_a_small_simulation() -> None:
    rates = hidden_rates()
    earned, picked = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        model, history = EngagementModel(), []
        for day in range(35):
            weekday = day % 7
            hour = model.choose([(weekday, h) for h in range(24)], rng)
            history.append(Observation(weekday, hour, float(rng.poisson(rates[weekday, hour] * rng.lognormal(0, 0.4)))))
            model.fit(history)
            if day >= 21:
                earned.append(rates[weekday, hour])
            picked.append(hour)
    assert np.mean(earned) > 1.5 * rates.mean()  # random hours earn rates.mean() on average
    assert len(set(picked[-30:])) > 1  # still exploring, not locked onto one hour


def test_follower_activity_is_the_prior_without_post_history() -> None:
    activity = [(d, 20) for d in range(7)] * 30 + [(d, h) for d in range(7) for h in range(24)]
    model = EngagementModel().fit([], activity)
    best = max(range(24), key=lambda h: model.predict(2, h))
    assert abs(best - 20) <= 1
    assert model.explain(2, best) == f"Wed {best:02d}:00: when your followers write to you most (from {len(activity)} messages); no post engagement yet"


def test_an_hour_nobody_wrote_at_is_not_called_when_they_write_most() -> None:
    model = EngagementModel().fit([], [(0, 5)] * 6)  # six messages, all on Monday at 5:00
    assert model.explain(0, 5).startswith("Mon 05:00: when your followers write to you most")
    assert model.explain(0, 12) == (
        "Mon 12:00: none of your followers' 6 messages came at this hour; a pick to learn from (no post engagement yet)"
    )


def test_explanation_compares_with_the_median_post() -> None:
    history = [Observation(1, 18, 60.0)] * 4 + [Observation(d, 9, 10.0) for d in range(7)] * 2
    model = EngagementModel().fit(history)
    line = model.explain(1, 18)
    match = re.fullmatch(r"Tue 18:00: (\d+\.\d)x your median engagement, from 18 posts", line)
    assert match and float(match[1]) > 2.0, line
