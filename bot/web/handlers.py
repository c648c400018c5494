"""The Chainlit app: thin handlers that read the session, call the engine, render.

Started by `coach run` (which prepares the database, the auth secret and the
app root). Everything shown is built in bot/web/chat_view.py; everything done is in
the session engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

import chainlit as cl
from chainlit.data import get_data_layer
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.oauth_providers import get_configured_oauth_providers
from chainlit.types import ThreadDict
from chainlit.utils import utc_now

from bot.errors import CoachError
from bot.hints import hint_for
from bot.personas import Persona
from bot.rubric import Grade
from bot.runtime import Runtime
from bot.session import (
    CustomerChunk,
    CustomerSaid,
    Failure,
    GradeReady,
    MoodChanged,
    SessionEnded,
    SessionEngine,
)
from bot.settings import get_settings
from bot.users import Accounts
from bot.web import chat_view as views

log = logging.getLogger(__name__)

DASHBOARD = "trainer-dashboard"
RESUME_SETTLE_SECONDS = 1.0
STAFF = ("trainer", "evaluator")

runtime = Runtime.create(get_settings())


# --- setup -----------------------------------------------------------------------------


@cl.on_app_startup
async def startup() -> None:
    await runtime.store.init()


@cl.data_layer
def data_layer() -> SQLAlchemyDataLayer:
    # Chainlit's own thread history lives in the same database as the sessions.
    return SQLAlchemyDataLayer(conninfo=runtime.settings.resolved_database_url)


@cl.password_auth_callback
async def sign_in(username: str, password: str) -> cl.User | None:
    account = await Accounts(runtime.store).authenticate(username, password)
    if account is None:
        return None
    return cl.User(identifier=account.name, metadata={"role": account.role})


async def oauth_sign_in(
    provider_id: str,
    token: str,
    raw_user_data: dict[str, str],
    default_user: cl.User,
    id_token: str | None = None,
) -> cl.User | None:
    """OAuth sign-in (Chainlit's providers, configured by their environment
    variables): the identity comes from the provider, the role from
    COACH_OAUTH_TRAINERS (trainers) or it is trainee."""
    trainers = runtime.settings.oauth_trainer_set
    role = "trainer" if default_user.identifier.lower() in trainers else "trainee"
    return cl.User(
        identifier=default_user.identifier, metadata={"role": role, "provider": provider_id}
    )


if get_configured_oauth_providers():
    # Chainlit refuses an OAuth callback when no provider is configured.
    cl.oauth_callback(oauth_sign_in)


def role_of(user: cl.User | cl.PersistedUser | None) -> str:
    return str((user.metadata or {}).get("role", "trainee")) if user else "trainee"


def current_ui() -> views.UI:
    environ = getattr(cl.context.session, "environ", None) or {}
    return views.ui_language(environ.get("HTTP_ACCEPT_LANGUAGE"))


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    ui = views.ui_language(language)
    allowed = runtime.settings.allowed_persona_languages
    personas = [
        p for p in runtime.catalog.personas.values() if not allowed or p.language in allowed
    ]
    # The browser's language first, then the other; easy scenarios first.
    order = {"easy": 0, "medium": 1, "hard": 2}
    personas.sort(key=lambda p: (p.language != ui, p.language, order[p.difficulty], p.name))
    profiles = [
        cl.ChatProfile(
            name=p.id,
            display_name=views.profile_display_name(p),
            markdown_description=views.profile_description(p, ui),
            default=i == 0,
        )
        for i, p in enumerate(personas)
    ]
    if role_of(user) in STAFF:
        profiles.append(
            cl.ChatProfile(
                name=DASHBOARD,
                display_name=views.t("dashboard", ui),
                markdown_description=views.t("dashboard_desc", ui),
            )
        )
    return profiles


# --- a session --------------------------------------------------------------------------


async def show_mood(persona: Persona, ui: views.UI, *, delta: int = 0, reason: str = "") -> None:
    history: list[int] = cl.user_session.get("mood_history") or []
    mood = history[-1] if history else persona.mood.start
    element = cl.CustomElement(
        name="MoodMeter",
        display="side",
        props=views.mood_props(persona, mood, ui, delta=delta, reason=reason, history=history),
    )
    await cl.ElementSidebar.set_elements([element], key=f"mood-{len(history)}")
    await cl.ElementSidebar.set_title(views.t("mood", ui))


async def report_persona_errors(ui: views.UI) -> None:
    errors = runtime.catalog.errors
    if errors and role_of(cl.user_session.get("user")) in STAFF:
        lines = "\n".join(f"- `{e}`" for e in errors)
        await cl.Message(
            author="Coach", content=f"**{views.t('persona_errors', ui)}**\n\n{lines}"
        ).send()


@cl.on_chat_start
async def on_chat_start() -> None:
    ui = current_ui()
    cl.user_session.set("ui", ui)
    profile = cl.user_session.get("chat_profile")
    user = cl.user_session.get("user")
    if profile == DASHBOARD and role_of(user) in STAFF:
        await show_dashboard(ui)
        return
    persona = runtime.catalog.personas.get(profile or "")
    if persona is None:
        await cl.Message(author="Coach", content=views.t("unknown_profile", ui)).send()
        return
    await report_persona_errors(ui)
    engine = runtime.engine(
        persona,
        user_id=user.identifier if user else None,
        word_delay=0.02 if runtime.backend.offline else 0.0,
    )
    await engine.start(thread_id=cl.context.session.thread_id)
    cl.user_session.set("engine", engine)
    cl.user_session.set("mood_history", [engine.mood])
    if runtime.backend.offline:
        await cl.Message(author="Coach", content=views.t("offline", ui)).send()
    await cl.Message(author="Coach", content=views.scenario_intro(persona, ui)).send()
    opening = cl.Message(author=persona.name, content=engine.history[0].content)
    await offer_actions(opening, ui)
    await opening.send()
    await show_mood(persona, ui)


@cl.on_chat_resume
async def on_chat_resume(thread: ThreadDict) -> None:
    ui = current_ui()
    cl.user_session.set("ui", ui)
    row = await runtime.store.find_by_thread(thread["id"])
    if row is None:
        return  # a dashboard thread: nothing to continue
    persona = runtime.catalog.get(row.persona_id)
    engine = await runtime.resume(row.id, persona)
    cl.user_session.set("engine", engine)
    cl.user_session.set("mood_history", [persona.mood.start] + [m for _, _, m in engine.turns])
    # Chainlit replays the stored thread into the page *after* this handler
    # returns, which clears the side panel and the actions sent from here: send
    # them once the replay is on its way.
    cl.user_session.set("resume_task", asyncio.create_task(after_resume(engine, ui)))


async def after_resume(engine: SessionEngine, ui: views.UI) -> None:
    await asyncio.sleep(RESUME_SETTLE_SECONDS)
    await show_mood(engine.persona, ui)
    if engine.ended:
        await cl.Message(author="Coach", content=views.t("ended", ui)).send()
        return
    resumed = cl.Message(author="Coach", content=views.t("resumed", ui, name=engine.persona.name))
    await offer_actions(resumed, ui)
    await resumed.send()


@cl.action_callback("hint")
async def on_hint(action: cl.Action) -> None:
    await give_hint()


@cl.action_callback("end_session")
async def on_end(action: cl.Action) -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    if engine is not None and not engine.ended:
        await finish(engine, await engine.end("trainee"))


async def offer_actions(message: cl.Message, ui: views.UI) -> None:
    """Hint and End buttons under the customer's latest line (and only there)."""
    for old in cl.user_session.get("actions") or []:
        if isinstance(old, cl.Action):  # a resumed session restores only JSON, not objects
            await old.remove()
    actions = [
        cl.Action(name="hint", payload={}, label=views.t("hint_button", ui), icon="lightbulb"),
        cl.Action(name="end_session", payload={}, label=views.t("end_button", ui), icon="flag"),
    ]
    message.actions = actions
    cl.user_session.set("actions", actions)


async def give_hint() -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    ui: views.UI = cl.user_session.get("ui") or "en"
    if engine is None:
        return
    text = hint_for(engine.persona, engine.grades)
    await cl.Message(author="Coach", content=views.t("hint", ui, text=text)).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    ui: views.UI = cl.user_session.get("ui") or current_ui()
    engine: SessionEngine | None = cl.user_session.get("engine")
    text = message.content.strip()
    # Typed as text: Chainlit's command chips need a second Enter, which trainees miss.
    command = text[1:].lower() if text.lower() in ("/hint", "/end") else ""
    if engine is None:
        await cl.Message(author="Coach", content=views.t("unknown_profile", ui)).send()
        return
    if command == "hint":
        await give_hint()
        return
    if command == "end":
        if not engine.ended:
            await finish(engine, await engine.end("trainee"))
        return
    if engine.ended:
        await cl.Message(author="Coach", content=views.t("ended", ui)).send()
        return
    try:
        await play_turn(engine, message, ui)
    except CoachError as exc:
        await cl.Message(author="Coach", content=str(exc)).send()
    if len(engine.turns) == 1:
        await name_thread(engine)


async def name_thread(engine: SessionEngine) -> None:
    """Threads are named after the scenario, not after the first reply."""
    layer = get_data_layer()
    thread_id = cl.context.session.thread_id
    if layer is not None and thread_id:
        await layer.update_thread(
            thread_id, name=f"{engine.persona.name} · {datetime.now():%d/%m %H:%M}"
        )


async def play_turn(engine: SessionEngine, message: cl.Message, ui: views.UI) -> None:
    persona = engine.persona
    reply: cl.Message | None = None
    # The grade's step is opened at once, so it sits right under the trainee's
    # message whatever arrives first, and is filled in when the grade is ready.
    grading = cl.Step(
        name=views.t("grading", ui), type="tool", parent_id=message.id, default_open=False
    )
    await grading.send()
    async for event in engine.turn(message.content):
        if isinstance(event, CustomerChunk):
            if reply is None:
                reply = cl.Message(author=persona.name, content="")
            await reply.stream_token(event.text)
        elif isinstance(event, CustomerSaid):
            if event.status == "final" or reply is None:
                await cl.Message(author=persona.name, content=event.content).send()
            else:
                reply.content = event.content
                if event.status != "partial":
                    await offer_actions(reply, ui)
                # A streamed reply cut by a failure, or replaced by the guard, is rewritten.
                if event.status in ("partial", "replaced"):
                    await reply.update()
                else:
                    await reply.send()
                reply = None
        elif isinstance(event, GradeReady):
            await show_grade(grading, event.grade, ui)
        elif isinstance(event, MoodChanged):
            history: list[int] = cl.user_session.get("mood_history") or []
            cl.user_session.set("mood_history", [*history, event.after])
            await show_mood(persona, ui, delta=event.delta, reason=event.reason)
        elif isinstance(event, Failure):
            await cl.Message(author="Coach", content=f"⚠️ {event.message}").send()
        elif isinstance(event, SessionEnded):
            await finish(engine, event)


async def show_grade(step: cl.Step, grade: Grade, ui: views.UI) -> None:
    step.name = views.grade_title(grade, ui)
    step.output = views.grade_markdown(grade, ui)
    step.end = utc_now()
    await step.update()


async def finish(engine: SessionEngine, ended: SessionEnded) -> None:
    ui: views.UI = cl.user_session.get("ui") or "en"
    assert engine.session_id is not None
    stored = await runtime.store.load(engine.session_id)
    assert stored is not None
    data = views.transcript(stored, engine.persona)
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    elements: list[Any] = [
        cl.Plotly(
            name="debrief-chart",
            figure=views.debrief_figure(ended.debrief, ui),
            display="inline",
            size="large",
        ),
        cl.File(
            name=f"transcript-{engine.persona.id}-{stamp}.md",
            content=views.transcript_markdown(data, ui).encode(),
            display="inline",
            mime="text/markdown",
        ),
        cl.File(
            name=f"transcript-{engine.persona.id}-{stamp}.json",
            content=views.transcript_json(data).encode(),
            display="inline",
            mime="application/json",
        ),
    ]
    await cl.Message(
        author="Coach", content=views.debrief_markdown(ended.debrief, ui), elements=elements
    ).send()


# --- trainers ----------------------------------------------------------------------------


async def show_dashboard(ui: views.UI) -> None:
    store = runtime.store
    grades = await store.grades_for_sessions([r.id for r in await store.list_sessions()])
    # Sessions where nobody replied yet (a scenario opened and left) are noise here.
    replied = {g.session_id for g in grades}
    rows = [r for r in await store.list_sessions() if r.id in replied]
    names = {p.id: p.name for p in runtime.catalog.personas.values()}
    by_session: dict[str, list[int]] = defaultdict(list)
    per_trainee: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    owner = {r.id: r.user_id or "–" for r in rows}
    for g in grades:
        if g.score is not None:
            by_session[g.session_id].append(g.score)
        counts = per_trainee[owner[g.session_id]]
        for cid, result in g.grade["criteria"].items():
            met, missed = counts.get(cid, (0, 0))
            counts[cid] = (
                met + (result["verdict"] == "met"),
                missed + (result["verdict"] == "missed"),
            )
    scores = {sid: round(sum(v) / len(v)) for sid, v in by_session.items() if v}
    points: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.started_at):
        if row.id in scores:
            points[row.user_id or "–"].append(
                (row.started_at.isoformat(timespec="minutes"), scores[row.id])
            )
    content = "\n\n".join(
        filter(
            None,
            [
                f"## {views.t('dashboard', ui)}",
                f"### {views.t('sessions', ui)}",
                views.sessions_table(rows, names, scores, ui),
                f"### {views.t('progress', ui)}" if points else "",
                views.criteria_progress_table(per_trainee, ui),
            ],
        )
    )
    elements: list[Any] = []
    if points:
        elements.append(
            cl.Plotly(
                name="progress",
                figure=views.progress_figure(points, ui),
                display="inline",
                size="large",
            )
        )
    actions = [
        cl.Action(
            name="open_session",
            payload={"session": r.id},
            label=f"{views.t('open', ui)}: {r.user_id} · "
            f"{names.get(r.persona_id, r.persona_id)} · "
            f"{r.started_at:%m-%d %H:%M}",
        )
        for r in rows[:30]
    ]
    await cl.Message(author="Coach", content=content, elements=elements, actions=actions).send()
    await report_persona_errors(ui)


@cl.action_callback("open_session")
async def open_session(action: cl.Action) -> None:
    ui: views.UI = cl.user_session.get("ui") or "en"
    if role_of(cl.user_session.get("user")) not in STAFF:
        return
    stored = await runtime.store.load(str(action.payload.get("session")))
    if stored is None:
        return
    persona = runtime.catalog.personas.get(stored.row.persona_id)
    if persona is None:
        return
    data = views.transcript(stored, persona)
    await cl.Message(
        author="Coach",
        content=views.transcript_markdown(data, ui),
        elements=[
            cl.File(
                name=f"transcript-{stored.row.id[:8]}.json",
                content=views.transcript_json(data).encode(),
                display="inline",
                mime="application/json",
            ),
        ],
    ).send()
