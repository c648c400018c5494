"""The real web app (`coach run` on loopback, offline) against what trainees
and a careless folder do to it: broken persona files among good ones, two
lines sent back to back, Stop pressed mid-turn, and `kill -9` of the app.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.personas import load_catalog
from bot.settings import get_settings
from tests.reliability.conftest import report
from tests.reliability.web_app import ReliabilityApp, until
from tests.security.live_app import Socket


def broken_folder(root: Path) -> Path:
    """The shipped personas plus four files that must each fail alone."""
    folder = root / "personas"
    shutil.copytree(get_settings().personas_dir, folder)
    (folder / "deep.yaml").write_text("a: " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    (folder / "dangling.yaml").symlink_to(root / "nowhere.yaml")
    (folder / "huge.yaml").write_bytes(b"# " + b"x" * (50 * 1024 * 1024) + b"\n")
    (folder / "latin1.yaml").write_bytes("name: Hélène\n".encode("latin-1"))
    return folder


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReliabilityApp]:
    root = tmp_path_factory.mktemp("offline")
    # The customer types slowly enough for Stop and kill -9 to land mid-turn.
    server = ReliabilityApp(
        root, COACH_PERSONAS_DIR=str(broken_folder(root)), COACH_TYPING_DELAY_SECONDS="0.15"
    )
    try:
        yield server.start_with_accounts()
    finally:
        server.stop()


def test_broken_persona_files_leave_every_good_scenario(app: ReliabilityApp) -> None:
    good = len(load_catalog(get_settings().personas_dir).personas)
    token = app.token("trainee0")
    response = httpx.get(
        app.url + "/project/settings",
        params={"language": "en-US"},
        cookies={"access_token": token},
        headers=app.headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    profiles = response.json()["chatProfiles"]
    assert len(profiles) == good
    report("web app with 4 broken persona files (one of 50 MB)", scenarios=f"{len(profiles)}")


async def test_back_to_back_lines_and_stop_keep_every_line_numbered_once(
    app: ReliabilityApp,
) -> None:
    socket = await app.open_chat(app.token("trainee1"))
    try:
        await socket.start_chat()
        await socket.wait_started()
        # Two lines at once: the second waits for the first, then plays.
        await socket.say("I'm sorry for the wait, let me look into it.")
        await socket.say("I understand how stressful this is.")
        await socket.wait_for(lambda: socket.task_ends() >= 4, within=60)
        # A third, stopped as soon as the customer starts answering.
        streamed = sum(1 for event, _ in socket.events if event == "stream_start")
        await socket.say("Let me check the tracking for you right now.")
        await socket.wait_for(
            lambda: sum(1 for event, _ in socket.events if event == "stream_start") > streamed,
            within=60,
        )
        await socket.client.emit("stop")
        await socket.wait_for(lambda: socket.task_ends() >= 5, within=60)

        [(session,)] = await app.query(
            "select id from coach_sessions s where exists (select 1 from coach_messages m"
            " where m.session_id = s.id and m.content = 'I understand how stressful this is.')"
        )

        async def three_grades() -> bool:
            found = await app.query(
                f"select count(*) from coach_grades where session_id = '{session}'"
            )
            return bool(found[0][0] == 3)

        await until(three_grades, 30, "the stopped turn's mark")
        grades = await app.query(
            "select g.turn, g.mode, g.grade, m.content from coach_grades g join coach_messages m"
            f" on m.id = g.message_id where g.session_id = '{session}' order by g.id"
        )
        assert [(turn, text) for turn, _, _, text in grades] == [
            (1, "I'm sorry for the wait, let me look into it."),
            (2, "I understand how stressful this is."),
            (3, "Let me check the tracking for you right now."),
        ]
        _, mode, grade, _ = grades[-1]
        assert mode == "ungraded" and "Stopped before the grade" in json.loads(grade)["note"]
        assert any("Stopped. Your message is saved" in text for text in socket.outputs())
        assert not any("Task manually stopped" in text for text in socket.outputs())
        report("back-to-back lines, then Stop", turns="1, 2, 3", stopped_turn=mode)
    finally:
        await socket.close()


async def test_kill_9_after_lines_are_stored_loses_no_thread(app: ReliabilityApp) -> None:
    token = app.token("trainee2")
    sockets = [await app.open_chat(token) for _ in range(5)]
    lines = [f"Let me look into that for you ({i})." for i in range(5)]
    for socket, text in zip(sockets, lines, strict=True):
        await socket.start_chat()
        await socket.wait_started()
        await socket.say(text)

    async def all_stored() -> bool:
        stored = await app.stored_lines()
        return all(stored[text] == 1 for text in lines)

    await until(all_stored, 60, "the five lines")
    await asyncio.sleep(0.3)  # mid-turn: the customer is still typing its reply
    assert app.process is not None
    os.kill(app.process.pid, signal.SIGKILL)
    app.process.wait(10)
    app.process = None
    for socket in sockets:
        await socket.close()

    app.start()
    token = app.token("trainee2")
    threads = await app.query(
        "select s.thread_id, m.content from coach_sessions s join coach_messages m"
        " on m.session_id = s.id where m.content like 'Let me look into that for you (%'"
    )
    assert sorted(content for _, content in threads) == sorted(lines)
    reopened = 0
    for thread_id, text in threads:
        socket = await app.open_chat(token, thread_id=thread_id)
        try:
            await socket.start_chat()
            await socket.wait_for(lambda s=socket: resumed(s), within=60)  # type: ignore[misc]
            assert text in replayed(socket)
            reopened += 1
        finally:
            await socket.close()
    report("kill -9 after 5 stored lines, then restart", threads_reopened=f"{reopened}/5")
    assert reopened == 5


def resumed(socket: Socket) -> bool:
    return any("Session resumed" in text for text in socket.outputs())


def replayed(socket: Socket) -> list[str]:
    """The messages Chainlit replayed into the page when the thread reopened."""
    replay = [data for event, data in socket.events if event == "resume_thread"]
    return [str(step.get("output", "")) for step in (replay[0] or {}).get("steps", [])]
