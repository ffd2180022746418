"""Process settings from `GOVFLOW_*` environment variables (and a `.env` file if present).

Load them at an entry point with `load_settings()`, never at import time: tests and the CLI
pass their own environment, and a bad variable must become a `ConfigError` naming it, not a
traceback. Secrets are `SecretStr`, so neither `repr` nor `str` of `Settings` shows them, and
no error message repeats a value read from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, HttpUrl, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from domain.errors import ConfigError, ConfigProblem
from domain.rules import ProjectKey

ENV_PREFIX = "GOVFLOW_"
DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
SECRETS = (
    "jira_token",
    "jira_webhook_secret",
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
)
# Without these production would silently fall back to the stand-ins or accept unsigned calls.
REQUIRED_IN_PRODUCTION = (
    "jira_url",
    "jira_user",
    "jira_token",
    "jira_webhook_secret",
    "slack_bot_token",
    "slack_signing_secret",
)
# Values copied from a README or template rather than from the real service.
PLACEHOLDER = re.compile(
    r"change[-_ ]?me|your[-_]|placeholder|replace[-_ ]?me|x{6,}|^<.*>$"
    r"|^(secret|password|token|todo|tbd|dummy|example|test|none|null)$",
    re.IGNORECASE,
)

HINTS: dict[str, str] = {
    "jira_url": "set GOVFLOW_JIRA_URL to your Jira site, e.g. https://yourcompany.atlassian.net "
    "(in development leave every GOVFLOW_JIRA_* unset to use the local stand-in)",
    "jira_user": "set GOVFLOW_JIRA_USER to the email of the Jira account govflow acts as",
    "jira_token": "set GOVFLOW_JIRA_TOKEN to an API token of that account "
    "(id.atlassian.com > Security > API tokens)",
    "jira_projects": "set GOVFLOW_JIRA_PROJECTS to comma-separated project keys, e.g. "
    "MODREQ,MODOPS, or unset it to use `jira.projects` from the rules",
    "jira_webhook_secret": "set GOVFLOW_JIRA_WEBHOOK_SECRET to the secret of the Jira webhook "
    "(it signs X-Hub-Signature)",
    "slack_bot_token": "set GOVFLOW_SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-...) from "
    "your Slack app's OAuth & Permissions page",
    "slack_signing_secret": "set GOVFLOW_SLACK_SIGNING_SECRET to the Signing Secret on your Slack "
    "app's Basic Information page",
    "slack_app_token": "set GOVFLOW_SLACK_APP_TOKEN to an app-level token (xapp-...) from Basic "
    "Information > App-Level Tokens for Socket Mode, or unset it to receive over HTTP",
    "slack_api_url": "set GOVFLOW_SLACK_API_URL to the Slack Web API base URL "
    "(default https://slack.com/api/)",
    "database_url": "set GOVFLOW_DATABASE_URL to a SQLAlchemy URL, e.g. "
    "sqlite:///.govflow/govflow.db or postgresql+psycopg://user:password@host/govflow",
    "rules": "set GOVFLOW_RULES to the path of the rules YAML, or unset it for the packaged one",
    "receiver_port": "set GOVFLOW_RECEIVER_PORT to a TCP port between 1 and 65535",
    "intake_interval_seconds": "set GOVFLOW_INTAKE_INTERVAL_SECONDS to a positive whole number",
    "watchdog_interval_seconds": "set GOVFLOW_WATCHDOG_INTERVAL_SECONDS to a positive whole number",
    "housekeeping_retention_hours": "set GOVFLOW_HOUSEKEEPING_RETENTION_HOURS to a positive "
    "whole number",
    "http_timeout_seconds": "set GOVFLOW_HTTP_TIMEOUT_SECONDS to a positive whole number",
    "advance_workers": "set GOVFLOW_ADVANCE_WORKERS to a whole number between 1 and 64",
    "environment": "set GOVFLOW_ENVIRONMENT to development or production",
    "runner_health_port": "set GOVFLOW_RUNNER_HEALTH_PORT to a TCP port between 1 and 65535, "
    "or unset it",
    "installation": "set GOVFLOW_INSTALLATION to a short lowercase name (letters, digits, "
    "dashes; starting with a letter), e.g. govflow-staging",
    "data_dir": "set GOVFLOW_DATA_DIR to a writable directory",
}


def redact_url(url: str) -> str:
    """`url` with any password masked, for logs and terminal output."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class SettingsInvalid(ValueError):
    """Several cross-field problems at once, each `(field, message, hint)`.

    Raised from the model validator: pydantic keeps the exception in the error's `ctx`, so
    `load_settings` can turn each entry into its own problem naming its own variable.
    """

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{env_name(f)}: {m}" for f, m, _ in problems))


class Settings(BaseSettings):
    """Where govflow finds Jira, Slack, its ledger and its rules, and how it runs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # `GOVFLOW_SLACK_APP_TOKEN=` in a .env file means "not set", not "set to nothing".
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        # A rejected secret must not appear in the error text or a traceback.
        hide_input_in_errors=True,
    )

    jira_url: HttpUrl | None = None
    jira_user: str | None = None
    jira_token: SecretStr | None = None
    jira_projects: Annotated[list[ProjectKey] | None, NoDecode] = Field(
        default=None, description="overrides `jira.projects` of the rules"
    )
    jira_webhook_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: HttpUrl = HttpUrl("https://slack.com/api/")
    data_dir: Path = Path(".govflow")
    # Declared after data_dir: the default factory reads the validated data_dir.
    database_url: str = Field(
        default_factory=lambda data: f"sqlite:///{Path(data['data_dir']) / 'govflow.db'}"
    )
    rules: Path = DEFAULT_RULES
    receiver_port: int = Field(default=3000, ge=1, le=65535)
    # The receiver's interface: 0.0.0.0 behind a load balancer or in a container.
    receiver_host: str = "127.0.0.1"
    # Unset, both follow the work (govflow.schedules): intake polls every 30 min when Jira
    # webhooks are configured (every 30 s when not), the watchdog runs when a clock falls due
    # with a safety run every hour. Set, each is a fixed interval as before.
    intake_interval_seconds: int = Field(default=30, gt=0)
    watchdog_interval_seconds: int = Field(default=60, gt=0)
    # Finished intake and watchdog runs are deleted from Prefect after this long.
    housekeeping_retention_hours: int = Field(default=24, gt=0)
    # How many requests one runner advances at once (threads; most of a run waits on I/O).
    advance_workers: int = Field(default=4, ge=1, le=64)
    # How long a Jira or Slack call may wait for its answer before it counts as failed.
    http_timeout_seconds: int = Field(default=30, gt=0)
    environment: Literal["development", "production"] = "development"
    # The runner's /healthz, /readyz and /metrics; unset: none (`govflow serve` picks a port).
    runner_health_port: int | None = Field(default=None, ge=1, le=65535)
    # Its interface: 0.0.0.0 where a probe comes from outside (a container's orchestrator).
    runner_health_host: str = "127.0.0.1"
    # Names this installation's deployments, tags and artifacts on a Prefect server that
    # other installations (staging, another team) share, so none takes another's work.
    installation: str = Field(default="govflow", pattern=r"^[a-z][a-z0-9-]{0,39}$")

    @field_validator("jira_projects", mode="before")
    @classmethod
    def _split_projects(cls, value: object) -> object:
        # The variable holds `MODREQ,MODOPS`; an empty one means "no override".
        if isinstance(value, str):
            keys = [part.strip() for part in value.split(",") if part.strip()]
            return keys or None
        return value

    @field_validator("jira_user")
    @classmethod
    def _user_given(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("is not a bot token: it must start with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("is not an app-level token: it must start with xapp-")
        return value

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        # The URL may carry a password, so the message never repeats it.
        if not re.match(r"^[a-z][a-z0-9]*(\+[a-z0-9_]+)?://", value):
            raise ValueError("is not a SQLAlchemy URL (dialect[+driver]://...)")
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = _pairing_problems(self)
        if self.environment == "production":
            problems += _production_problems(self, already={f for f, _, _ in problems})
        if problems:
            raise SettingsInvalid(problems)
        return self

    @property
    def uses_sandbox_jira(self) -> bool:
        """Whether no Jira is configured, so the local Jira stand-in serves instead."""
        return self.jira_url is None

    @property
    def uses_sandbox_slack(self) -> bool:
        """Whether no Slack is configured, so the local Slack stand-in serves instead."""
        return self.slack_bot_token is None

    @property
    def database_url_redacted(self) -> str:
        """The database URL with any password masked, for logs and `serve` output."""
        return redact_url(self.database_url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # SecretStr already hides tokens; the database URL can embed a password too.
        for name, value in super().__repr_args__():
            yield name, self.database_url_redacted if name == "database_url" else value


def _pairing_problems(s: Settings) -> list[tuple[str, str, str]]:
    """Credentials that only work together: a Jira URL with its user and token, and so on."""
    problems: list[tuple[str, str, str]] = []
    if s.jira_url is not None:
        for name in ("jira_user", "jira_token"):
            if getattr(s, name) is None:
                problems.append((name, "is required when GOVFLOW_JIRA_URL is set", HINTS[name]))
    elif s.jira_user is not None or s.jira_token is not None:
        problems.append(
            (
                "jira_url",
                "is required when GOVFLOW_JIRA_USER or GOVFLOW_JIRA_TOKEN is set",
                HINTS["jira_url"] + ", or unset GOVFLOW_JIRA_USER and GOVFLOW_JIRA_TOKEN",
            )
        )
    if s.slack_bot_token is None and (
        s.slack_signing_secret is not None or s.slack_app_token is not None
    ):
        problems.append(
            (
                "slack_bot_token",
                "is required when GOVFLOW_SLACK_SIGNING_SECRET or GOVFLOW_SLACK_APP_TOKEN is set",
                HINTS["slack_bot_token"],
            )
        )
    # Slack's requests are verified by the signing secret over HTTP; Socket Mode needs none.
    if (
        s.slack_bot_token is not None
        and s.slack_signing_secret is None
        and s.slack_app_token is None
    ):
        problems.append(
            (
                "slack_signing_secret",
                "is required with GOVFLOW_SLACK_BOT_TOKEN to verify Slack's requests "
                "(unless GOVFLOW_SLACK_APP_TOKEN selects Socket Mode)",
                HINTS["slack_signing_secret"],
            )
        )
    return problems


def _production_problems(s: Settings, *, already: set[str]) -> list[tuple[str, str, str]]:
    """Production needs every real credential, and none may be a template placeholder."""
    problems: list[tuple[str, str, str]] = []
    for name in REQUIRED_IN_PRODUCTION:
        if getattr(s, name) is None and name not in already:
            problems.append((name, "is required in production", HINTS[name]))
    for name in SECRETS:
        secret: SecretStr | None = getattr(s, name)
        if secret is not None and PLACEHOLDER.search(secret.get_secret_value()):
            problems.append(
                (name, "holds a placeholder, not a real secret", f"replace it: {HINTS[name]}")
            )
    return problems


class _GivenEnvironment(Settings):
    """Settings from a given mapping only: neither the process environment nor `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values `load_settings` passes, which it read from the mapping."""
        return (init_settings,)

    def __repr_name__(self) -> str:
        return "Settings"


def env_name(field: str) -> str:
    """The environment variable that sets a settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from `env` (default: process environment and `.env`); raise ConfigError."""
    try:
        if env is None:
            return Settings()
        return _GivenEnvironment.model_validate(_fields_from(env))
    except ValidationError as exc:
        # `from None`: the pydantic error would only repeat what the problems say.
        raise ConfigError(_problems(exc)) from None


def _fields_from(env: Mapping[str, str]) -> dict[str, str]:
    """The fields a mapping sets, read as the process environment is: any case, empty = unset."""
    wanted = {env_name(name): name for name in Settings.model_fields}
    return {
        wanted[key.upper()]: value
        for key, value in env.items()
        if key.upper() in wanted and value != ""
    }


def _problems(exc: ValidationError) -> list[ConfigProblem]:
    """One problem per pydantic error, naming the variable to set and never echoing its value."""
    problems: list[ConfigProblem] = []
    for error in exc.errors(include_input=False, include_url=False):
        if error["type"] == "default_factory_not_called":
            continue  # the database URL default waits on data_dir; that error is reported
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, SettingsInvalid):
            entries = cause.problems
        else:
            field = str(error["loc"][0]) if error["loc"] else ""
            entries = [(field, _message(error["msg"]), HINTS.get(field, ""))]
        problems += [
            ConfigProblem(source="environment", line=None, where=env_name(f), message=m, hint=h)
            for f, m, h in entries
        ]
    return problems


def _message(msg: str) -> str:
    """Pydantic's message without its `Value error, ` prefix."""
    return msg.removeprefix("Value error, ")


class _RulesLocation(BaseSettings):
    """GOVFLOW_RULES alone, read like `Settings` reads it, for when other settings are bad."""

    model_config = Settings.model_config
    rules: Path = DEFAULT_RULES


def rules_location(env: Mapping[str, str] | None = None) -> Path:
    """The rules file the environment names (or the packaged one), whatever else is wrong."""
    if env is None:
        return _RulesLocation().rules
    given = _fields_from(env).get("rules")
    return Path(given) if given else DEFAULT_RULES
