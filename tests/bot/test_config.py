from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import ConfigError
from tests.conftest import ROOT


def test_project_config_loads_with_every_section() -> None:
    settings = load_settings(ROOT / "config.toml")
    assert settings.brand.name
    assert settings.data_dir == ROOT / "data"
    assert settings.database_url == f"sqlite:///{ROOT / 'data' / 'bot.db'}"
    assert settings.model_cache_dir == ROOT / "data" / "models"


def test_relative_paths_resolve_against_the_config_file(settings, config_file: Path) -> None:
    assert settings.data_dir == config_file.parent / "data"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[brand\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_settings(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[bot]\nlog_level = 'INFO'\n", r"key 'brand' is missing"),
        ("[brand]\ntone = 'x'\n", r"key 'brand\.name' is missing"),
        ("[brand]\nname = 'x'\n[generator]\nmax_new_tokens = 'many'\n", r"key 'generator\.max_new_tokens'"),
        ("[brand]\nname = 'x'\nnmae = 'typo'\n", r"key 'brand\.nmae' is not a known setting"),
        ("[brand]\nname = 'x'\n[schedule.slots]\nconsole = ['9am']\n", r"key 'schedule\.slots'.*'9am'.*neither HH:MM nor 'best'"),
        ("[brand]\nname = 'x'\n[schedule]\nbest_hours = [22, 6]\n", r"key 'schedule\.best_hours'.*first <= last"),
        ("[brand]\nname = 'x'\n[bot]\ntimezone = 'Europe/Berln'\n", r"key 'bot\.timezone'.*unknown time zone 'Europe/Berln'"),
        ("[brand]\nname = 'x'\n[database]\nurl = 'not a url'\n", r"key 'database\.url'.*not a database URL"),
        ("[brand]\nname = 'x'\n[database]\nurl = 'nosuch://h/db'\n", r"key 'database\.url'.*unknown database kind"),
        # No PostgreSQL driver is installed in the venv, so this names the missing driver.
        ("[brand]\nname = 'x'\n[database]\nurl = 'postgresql+pg8000://u@h/db'\n", r"key 'database\.url'.*driver .* is not installed.*pip install"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path)
    assert "\n" not in str(info.value)


def test_owner_allow_list(settings) -> None:
    assert settings.is_owner("telegram", "42")
    assert not settings.is_owner("telegram", "43")
    assert not settings.is_owner("slack", "42")


def test_dated_facts_hold_only_within_their_dates(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[brand]\nname = 'x'\nfacts = [\n  'Open daily.',\n"
        "  { text = 'Autumn sale: 20% off cakes.', from = '2026-11-01', until = '2026-11-30' },\n"
        "  { text = 'Stollen from December.', from = '2026-12-01' },\n]\n"
    )
    brand = load_settings(path).brand
    assert brand.current_facts(date(2026, 11, 30)) == ["Open daily.", "Autumn sale: 20% off cakes."]
    assert brand.current_facts(date(2026, 12, 4)) == ["Open daily.", "Stollen from December."]
    assert brand.ended_facts(date(2026, 12, 4)) == ["Autumn sale: 20% off cakes."]
    assert brand.ended_facts(date(2026, 11, 15)) == []


def test_a_fact_may_list_the_questions_it_answers(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[brand]\nname = 'x'\nfacts = [\n  'Open daily.',\n"
        "  { text = 'We deliver within 10 km.', questions = ['Do you deliver?', ' How far do you deliver? '] },\n]\n"
    )
    brand = load_settings(path).brand
    assert brand.current_facts(date(2026, 12, 4)) == ["Open daily.", "We deliver within 10 km."]
    assert brand.fact_questions() == {"We deliver within 10 km.": ("Do you deliver?", "How far do you deliver?")}
    path.write_text("[brand]\nname = 'x'\nfacts = [{ text = 'Open daily.', questions = ['When do you open?', ' '] }]\n")
    with pytest.raises(ConfigError, match=r"key 'brand\.facts\.0\.questions'.*a question is empty"):
        load_settings(path)


def test_a_fact_whose_dates_are_reversed_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[brand]\nname = 'x'\nfacts = [{ text = 'Sale', from = '2026-12-01', until = '2026-11-01' }]\n")
    with pytest.raises(ConfigError, match=r"key 'brand\.facts\.0'.*after 'until'"):
        load_settings(path)
