"""Validate settings and rules together, before anything runs.

`govflow check-config` prints what this finds; `govflow serve` calls `load_config` and refuses
to start on a `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.loader import load_rules, rule_warnings
from config.settings import Settings, load_settings, rules_location
from domain.errors import ConfigError, ConfigProblem
from domain.rules import Rules


def load_config(env: Mapping[str, str] | None = None) -> tuple[Settings, Rules]:
    """Settings and rules, or ConfigError listing every problem in either."""
    problems: list[ConfigProblem] = []
    settings: Settings | None = None
    rules: Rules | None = None
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        problems += exc.problems
    try:
        # Checked even when other settings fail, so one run shows everything to fix.
        rules = load_rules(settings.rules if settings else rules_location(env))
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    assert settings is not None and rules is not None  # no problem means both loaded
    return settings, rules


def check_config(env: Mapping[str, str] | None = None) -> list[ConfigProblem]:
    """Every problem in settings (from `env`, default the process environment) and rules."""
    try:
        load_config(env)
    except ConfigError as exc:
        return exc.problems
    return []


def config_warnings(settings: Settings) -> list[ConfigProblem]:
    """What the (valid) rules will get wrong at run time; govflow still starts."""
    return rule_warnings(settings.rules)
