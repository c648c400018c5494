"""Recorded model responses, so the LLM path replays offline and in CI.

A LangChain cache keyed by a hash of the model, its parameters and the full
prompt (messages, bound tools and schema). In ``record`` mode every call goes
to the live backend and its response is written to one JSON file per key;
``fill`` records only what is missing; in ``replay`` mode responses come from
those files, and a prompt that was never recorded is an error (never a silent
network call): a changed prompt, persona, schema or model setting shows up as
missing recordings.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, Literal

from langchain_core._api.beta_decorator import LangChainBetaWarning
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.load import dumpd, load

from bot.errors import RecordingMissing
from bot.samples import current_sample, current_vote

__all__ = ["RecordingCache", "current_sample", "current_vote", "recording_key"]

#: Connection details that do not change what a model answers.
_VOLATILE = (
    "openai_api_base",
    "openai_api_key",
    "request_timeout",
    "max_retries",
    "stream_usage",
    "http_client",
    "http_async_client",
)


def normalise_llm_string(llm_string: str) -> str:
    """The model identity without where or how it was reached."""
    head, sep, tail = llm_string.partition("---")
    try:
        data = json.loads(head)
    except json.JSONDecodeError:
        return llm_string
    kwargs = data.get("kwargs", {})
    for key in _VOLATILE:
        kwargs.pop(key, None)
    return json.dumps(data, sort_keys=True) + sep + tail


def recording_key(prompt: str, llm_string: str) -> str:
    digest = hashlib.sha256()
    digest.update(normalise_llm_string(llm_string).encode())
    digest.update(b"\n")
    digest.update(prompt.encode())
    return digest.hexdigest()[:20]


class RecordingCache(BaseCache):
    def __init__(self, directory: Path, mode: Literal["replay", "record", "fill"]) -> None:
        self.directory = directory
        self.mode = mode
        self.hits = 0
        self.recorded = 0
        self.missing: list[str] = []

    def _key(self, prompt: str, llm_string: str) -> str:
        key = recording_key(prompt, llm_string)
        # Repeats of one case (--repeat) and the grader's votes on one turn
        # (COACH_GRADER_VOTES) are distinct samples, recorded apart.
        sample, vote = current_sample.get(), current_vote.get()
        if sample:
            key = f"{key}-{sample}"
        return f"{key}-v{vote}" if vote else key

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        key = self._key(prompt, llm_string)
        if self.mode == "record":
            return None  # always ask the live backend, then update() writes it
        path = self._path(key)
        if not path.exists() and self.mode == "fill":
            return None
        if not path.exists():
            self.missing.append(key)
            raise RecordingMissing(
                f"no recorded response {key} in {self.directory}: a prompt, persona, schema or "
                "model setting changed since recording; re-record with coach eval --record "
                "against a live backend"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        self.hits += 1
        with warnings.catch_warnings():
            # langchain_core.load is marked beta; it is the documented way back
            # from dumpd, and the recordings pin the version that wrote them.
            warnings.simplefilter("ignore", LangChainBetaWarning)
            generations: RETURN_VAL_TYPE = [
                load(g, allowed_objects="core") for g in data["generations"]
            ]
        return generations

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        if self.mode == "replay":
            return
        key = self._key(prompt, llm_string)
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key,
            "model": _model_name(llm_string),
            "generations": [dumpd(g) for g in return_val],
        }
        self._path(key).write_text(
            json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        self.recorded += 1

    def clear(self, **kwargs: Any) -> None:
        for path in self.directory.glob("*.json"):
            if path.name != "profile.json":
                path.unlink()

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        return self.lookup(prompt, llm_string)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        self.update(prompt, llm_string, return_val)


def _model_name(llm_string: str) -> str | None:
    try:
        data: dict[str, Any] = json.loads(llm_string.partition("---")[0])
    except json.JSONDecodeError:
        return None
    name = data.get("kwargs", {}).get("model_name")
    return str(name) if name else None
