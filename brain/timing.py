"""Best time to post: expected engagement by hour of the week, learned from the account's own posts.

The model is a Bayesian linear regression of log1p(engagement) on hour-of-day, weekday,
hour-of-week, content type (and its hour-of-day profile) and paid promotion. Its prior has smooth
hour-of-day effects (neighbouring hours are correlated) centred on the hours at which the
account's followers write to it, so a new account starts from its audience's rhythm. Picks are
Thompson samples from the posterior: uncertain hours still get tried now and then, so the model
keeps learning instead of locking onto one hour. The posterior mean is the ridge fit used by
`bot timing eval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from threadpoolctl import threadpool_limits

from core.text import counted

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS_A_WEEK = 168


@dataclass(frozen=True)
class Observation:
    """One published post: when (account-local weekday 0=Monday and hour) and its engagement."""

    weekday: int
    hour: int
    engagement: float
    content_type: str = ""
    paid: bool = False


@dataclass(frozen=True)
class TimingPrior:
    """Prior standard deviations (log1p units) and the smoothing length; tuned on the Facebook data."""

    intercept: float = 3.0
    hour: float = 0.6
    hour_length: float = 2.5  # hours over which hour-of-day effects move together
    weekday: float = 0.3
    week_hour: float = 0.15
    content_type: float = 0.6
    type_hour: float = 0.15
    paid: float = 0.5
    noise: float = 0.8  # guessed residual sd before any data
    noise_weight: float = 5.0  # how many observations the guess counts for
    activity_weight: float = 1.0  # 1: engagement follows the audience's activity one to one
    # Scales the posterior spread of a Thompson draw: 1 is plain Thompson sampling; less
    # explores less (still never zero, so the model keeps trying other hours).
    exploration: float = 0.5


def _one_blas_thread() -> threadpool_limits:
    # These matrices are ~200 wide: extra BLAS threads only spin against each other and against
    # torch (1.5 s instead of 6 ms for one fit on a busy 2-core machine).
    return threadpool_limits(limits=1, user_api="blas")


def local_slot(moment: datetime, zone: ZoneInfo) -> tuple[int, int]:
    local = moment.astimezone(zone)
    return local.weekday(), local.hour


def _circular_kernel(n: int, length: float) -> np.ndarray:
    idx = np.arange(n)
    gap = np.abs(idx[:, None] - idx[None, :])
    gap = np.minimum(gap, n - gap)
    # The small independent part keeps the matrix well conditioned and lets one hour stand out.
    return 0.95 * np.exp(-0.5 * (gap / length) ** 2) + 0.05 * np.eye(n)


@dataclass
class EngagementModel:
    prior: TimingPrior = field(default_factory=TimingPrior)
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        with _one_blas_thread():
            self._build_prior()

    def _build_prior(self) -> None:
        k = len(self.types)
        # Feature blocks: intercept, hour, weekday, hour-of-week, type, type x hour, paid.
        self._sizes = [1, 24, 7, HOURS_A_WEEK, k, 24 * k, 1]
        self._starts = np.cumsum([0, *self._sizes[:-1]])
        self.dim = int(sum(self._sizes))
        p = self.prior
        cov = np.zeros((self.dim, self.dim))
        hour_cov = p.hour**2 * _circular_kernel(24, p.hour_length)
        blocks = [
            np.array([[p.intercept**2]]),
            hour_cov,
            p.weekday**2 * np.eye(7),
            # Each weekday's own smooth deviation from the shared daily curve (weekends peak later).
            p.week_hour**2 * np.kron(np.eye(7), _circular_kernel(24, p.hour_length)),
            p.content_type**2 * np.eye(k),
            np.kron(np.eye(k), (p.type_hour / p.hour) ** 2 * hour_cov) if k else np.zeros((0, 0)),
            np.array([[p.paid**2]]),
        ]
        for start, block in zip(self._starts, blocks):
            cov[start : start + len(block), start : start + len(block)] = block
        precision = np.linalg.inv(cov)
        self._prior_precision = (precision + precision.T) / 2
        self.prior_mean = np.zeros(self.dim)
        self.mean = self.prior_mean.copy()
        self._chol = np.linalg.cholesky(self._prior_precision)
        self.n_posts = 0
        self.n_messages = 0
        self._written_by_hour = np.zeros(24)  # followers' messages per hour of the day
        self.median = 0.0
        self.audience_prior = False  # the activity is followers' online hours from the platform, not messages

    def features(self, weekday: int, hour: int, content_type: str = "", paid: bool = False) -> np.ndarray:
        x = np.zeros(self.dim)
        s = self._starts
        x[s[0]] = 1.0
        x[s[1] + hour] = 1.0
        x[s[2] + weekday] = 1.0
        x[s[3] + weekday * 24 + hour] = 1.0
        if content_type in self.types:
            t = self.types.index(content_type)
            x[s[4] + t] = 1.0
            x[s[5] + t * 24 + hour] = 1.0
        x[s[6]] = float(paid)
        return x

    def fit(self, observations: Sequence[Observation], activity: Sequence[tuple[int, int]] = ()) -> EngagementModel:
        """activity: (weekday, hour) at which followers wrote to the account: the prior's shape."""
        with _one_blas_thread():
            return self._fit(observations, activity)

    def _fit(self, observations: Sequence[Observation], activity: Sequence[tuple[int, int]]) -> EngagementModel:
        self.n_posts, self.n_messages = len(observations), len(activity)
        self._written_by_hour = np.zeros(24)
        m0 = np.zeros(self.dim)
        if activity:
            counts = np.zeros((7, 24))
            for weekday, hour in activity:
                counts[weekday, hour] += 1
            w = self.prior.activity_weight
            by_hour = np.log(counts.sum(0) + 1.0)
            by_day = np.log(counts.sum(1) + 1.0)
            m0[self._starts[1] : self._starts[1] + 24] = w * (by_hour - by_hour.mean())
            self._written_by_hour = counts.sum(0)
            m0[self._starts[2] : self._starts[2] + 7] = w * (by_day - by_day.mean())
        y = np.log1p(np.array([o.engagement for o in observations], dtype=float))
        if len(y):
            m0[0] = float(np.median(y))
            self.median = float(np.median([o.engagement for o in observations]))
        self.prior_mean = m0
        if not len(y):
            self.mean, self._chol = m0.copy(), np.linalg.cholesky(self._prior_precision)
            return self
        x = np.array([self.features(o.weekday, o.hour, o.content_type, o.paid) for o in observations])
        p = self.prior
        noise_var = p.noise**2
        for _ in range(2):  # re-estimate the noise from the residuals once
            precision = self._prior_precision + x.T @ x / noise_var
            chol = np.linalg.cholesky(precision)
            rhs = self._prior_precision @ m0 + x.T @ y / noise_var
            mean = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))
            rss = float(np.sum((y - x @ mean) ** 2))
            noise_var = (p.noise_weight * p.noise**2 + rss) / (p.noise_weight + len(y))
        self.mean, self._chol = mean, chol
        return self

    def predict(self, weekday: int, hour: int, content_type: str = "", paid: bool = False) -> float:
        """Expected log1p(engagement) of a post at this local weekday and hour."""
        return float(self.features(weekday, hour, content_type, paid) @ self.mean)

    def choose(
        self, candidates: Sequence[tuple[int, int]], rng: np.random.Generator, content_type: str = ""
    ) -> int:
        """Thompson sampling: the index of the candidate (weekday, hour) best under one posterior draw."""
        with _one_blas_thread():
            spread = self.prior.exploration * np.linalg.solve(self._chol.T, rng.standard_normal(self.dim))
        draw = self.mean + spread
        scores = [self.features(d, h, content_type) @ draw for d, h in candidates]
        return int(np.argmax(scores))

    def explain(self, weekday: int, hour: int, content_type: str = "") -> str:
        """One line on why this hour: 'Tue 18:00: 2.3x your median engagement, from 14 posts'."""
        slot = f"{DAYS[weekday]} {hour:02d}:00"
        if self.n_posts:
            ratio = np.expm1(self.predict(weekday, hour, content_type)) / max(self.median, 1e-9)
            return f"{slot}: {ratio:.1f}x your median engagement, from {counted(self.n_posts, 'post')}"
        if self.audience_prior:
            return f"{slot}: when your followers are online most (the platform's insights); no post engagement yet"
        if self.n_messages and self._written_by_hour[hour] == 0:
            # Exploration, or posting hours ([schedule] best_hours) apart from when they write.
            return (
                f"{slot}: none of your followers' {counted(self.n_messages, 'message')} came at this hour; "
                "a pick to learn from (no post engagement yet)"
            )
        if self.n_messages:
            return f"{slot}: when your followers write to you most (from {counted(self.n_messages, 'message')}); no post engagement yet"
        return f"{slot}: no history yet, so this is an exploratory pick"
