"""Settings, read from the environment and from ``.env`` (pydantic-settings).

The model backend follows the OpenAI SDK's own variables (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``); everything else is prefixed ``COACH_``. ``.env.example``
lists them all with their defaults.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The project checkout: prompts/, personas/ and evals/ live beside bot/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where an installed wheel keeps its copies of prompts/ and personas/.
PACKAGED_DATA = Path(__file__).resolve().parent / "_data"


def _shipped(name: str) -> Path:
    """The checkout's folder when running from one, else the wheel's copy."""
    checkout = PROJECT_ROOT / name
    return checkout if checkout.is_dir() else PACKAGED_DATA / name


#: The value Chainlit's CI mode writes into OPENAI_API_KEY. It is not a key.
CHAINLIT_FAKE_KEY = "sk-FAKE-OPENAI-API-KEY"

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COACH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- where completions come from -------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    backend: Literal["auto", "openai", "compatible", "offline"] = Field(
        default="auto",
        description="auto: a base URL means a compatible server, a key alone means OpenAI, "
        "neither means offline.",
    )
    structured_output: Literal["auto", "json_schema", "function_calling", "json_mode"] = Field(
        default="auto",
        description="How the grader asks for JSON. auto: json_schema on OpenAI, "
        "function_calling on other servers (llama.cpp rejects json_schema).",
    )

    # --- the two chains ---------------------------------------------------
    persona_model: str = "gpt-4o-mini"
    grader_model: str = "gpt-4o-mini"
    persona_temperature: float = Field(default=0.8, ge=0, le=2)
    grader_temperature: float = Field(default=0.0, ge=0, le=2)
    persona_max_tokens: int = Field(default=300, gt=0)
    grader_max_tokens: int = Field(default=1500, gt=0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    reply_deadline_seconds: float = Field(
        default=45.0,
        gt=0,
        description="The customer's whole reply, retries and stalls included; past it the "
        "trainee is told and the message stays saved.",
    )
    grade_deadline_seconds: float = Field(
        default=45.0,
        gt=0,
        description="The whole grade, retries included; past it the turn is ungraded.",
    )
    max_retries: int = Field(default=2, ge=0, description="SDK retries on network errors.")
    grader_attempts: int = Field(
        default=3, ge=1, description="Attempts at a valid grade before it is 'ungraded'."
    )
    grader_votes: int = Field(
        default=1,
        ge=1,
        le=9,
        description="Grader calls per turn (at once); each criterion the model decides takes "
        "the majority verdict, a tie goes to the checks' hint or 'missed'. Above 1, give the "
        "grader a temperature above 0 (COACH_GRADER_TEMPERATURE), or the votes agree by "
        "construction.",
    )
    typing_delay_seconds: float = Field(
        default=0.02,
        ge=0,
        le=2,
        description="Web app: seconds between the words of the offline customer's reply, "
        "so it types as a model would.",
    )
    history_token_budget: int = Field(
        default=1500,
        ge=200,
        description="Tokens of conversation history sent to each chain (counted with tiktoken).",
    )

    # --- files and storage ------------------------------------------------
    data_dir: Path = Path(".coach")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite in data_dir."
    )
    personas_dir: Path = Field(default_factory=lambda: _shipped("personas"))
    prompts_dir: Path = Field(default_factory=lambda: _shipped("prompts"))
    lexicon_dir: Path = Field(
        default=Path(__file__).resolve().parent / "lexicon",
        description="The checks' phrase lists (fr.txt, en.txt).",
    )
    evals_dir: Path = PROJECT_ROOT / "evals"
    persona_languages: str = Field(
        default="",
        description="Comma-separated languages the web app offers (e.g. 'fr'); empty: all.",
    )
    oauth_trainers: str = Field(
        default="",
        description="Comma-separated OAuth identities (e-mails) that sign in as trainers.",
    )
    seed: int | None = Field(
        default=None, description="Seed for the offline customer's choice of lines."
    )

    # --- the web app's doors -----------------------------------------------
    allowed_origins: str = Field(
        default="",
        description="Comma-separated origins (scheme://host:port) the web app is opened from; "
        "requests and socket connections from any other origin are refused. Empty: the "
        "origins `coach run` serves on (http://localhost:PORT and http://127.0.0.1:PORT).",
    )
    token_lifetime_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="How long a sign-in lasts before the user must sign in again.",
    )
    login_attempts: int = Field(
        default=10,
        ge=1,
        description="Sign-ins one client address may have failing or in progress per window "
        "before it is answered 429.",
    )
    login_window_seconds: float = Field(
        default=60.0, gt=0, description="The window of login_attempts."
    )

    @field_validator("openai_api_key")
    @classmethod
    def _drop_placeholder_keys(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty variable, or Chainlit's CI placeholder, is no key at all.
        if value is None or value.get_secret_value().strip() in ("", CHAINLIT_FAKE_KEY):
            return None
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _blank_url_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def allowed_persona_languages(self) -> set[str]:
        return {x.strip() for x in self.persona_languages.split(",") if x.strip()}

    @property
    def oauth_trainer_set(self) -> set[str]:
        return {x.strip().lower() for x in self.oauth_trainers.split(",") if x.strip()}

    @property
    def allowed_origin_list(self) -> list[str]:
        """The configured origins, normalised (no trailing slash, lower case)."""
        return [o.strip().rstrip("/").lower() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'coach.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings. Tests clear the cache (``get_settings.cache_clear()``)."""
    return Settings()
