"""Prompts are files in ``prompts/`` (Jinja2), loaded by name.

A variable a template uses but the caller did not pass is an error, not an
empty string. Each prompt's hash goes into eval reports and recordings, so a
grade can be traced back to the prompt version that produced it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from bot.errors import PromptError
from bot.settings import get_settings


@cache
def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain text for a model, not HTML
    )


def prompts_dir() -> Path:
    return get_settings().prompts_dir


def prompt_path(name: str) -> Path:
    return prompts_dir() / f"{name}.md"


def render(name: str, **variables: Any) -> str:
    """Render ``prompts/<name>.md`` with ``variables``."""
    directory = prompts_dir()
    try:
        template = _environment(directory).get_template(f"{name}.md")
    except jinja2.TemplateNotFound:
        raise PromptError(
            f"prompt '{name}' not found: expected {directory / (name + '.md')}"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(
            f"prompts/{name}.md:{exc.lineno}: template error: {exc.message}"
        ) from None
    try:
        return template.render(**variables).strip()
    except jinja2.UndefinedError as exc:
        raise PromptError(
            f"prompts/{name}.md needs a variable that was not given: {exc.message}"
        ) from None


def prompt_hash(name: str) -> str:
    """sha256 (first 12 hex digits) of a prompt file's bytes."""
    path = prompt_path(name)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        raise PromptError(f"prompt '{name}' not found: expected {path}") from None


def prompt_hashes() -> dict[str, str]:
    return {p.stem: prompt_hash(p.stem) for p in sorted(prompts_dir().glob("*.md"))}
