"""The Chainlit app: thin handlers that read the user session, call the engine, render.

Started by `coach run` (bot/web/launch.py prepares the database, the auth
secret and the app root, then points Chainlit at this file). What is shown is
built in the bot/web view modules from the strings in bot/i18n; what is done
is in the session engine; what trainers see is aggregated in
bot/web/dashboard.py. Nothing here computes, words or queries anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any

import chainlit as cl
from chainlit.auth import get_token_from_cookies
from chainlit.config import FILES_DIRECTORY
from chainlit.config import config as chainlit_config
from chainlit.oauth_providers import get_configured_oauth_providers
from chainlit.server import app as chainlit_app
from chainlit.server import sio as chainlit_sio
from chainlit.types import ThreadDict
from chainlit.utils import utc_now
from fastapi import Request, Response

from bot import corrections
from bot.errors import CoachError, CorrectionError
from bot.events import (
    CustomerChunk,
    CustomerSaid,
    Event,
    Failure,
    GradeReady,
    MoodChanged,
    SessionEnded,
    SessionStarted,
    TraineeSaid,
)
from bot.files import private_dir
from bot.i18n import Language, t, ui_language
from bot.rubric import Grade
from bot.runtime import Runtime
from bot.session import SessionEngine
from bot.settings import get_settings
from bot.users import Accounts, SignInLimited, SignInLimiter
from bot.web import (
    arrival,
    avatars,
    chat_view,
    dashboard,
    debrief_view,
    security,
    stop,
    thread_names,
    transcripts,
)
from bot.web.credentials import STAMP, Credentials
from bot.web.data_layer import CoachDataLayer
from bot.web.element_store import ElementStore

log = logging.getLogger(__name__)

DASHBOARD = "trainer-dashboard"
RESUME_SETTLE_SECONDS = 1.0
#: How long a line typed while the chat starts waits for the start.
START_WAIT_SECONDS = 60.0
STAFF = ("trainer", "evaluator")
#: Easy scenarios first in the picker.
DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}

runtime = Runtime.create(get_settings())


# --- setup -----------------------------------------------------------------------------


@cl.on_app_startup
async def startup() -> None:
    # Files trainees' sessions produce live here: nobody else may enter.
    private_dir(FILES_DIRECTORY)
    await runtime.store.init()


@cl.data_layer
def data_layer() -> CoachDataLayer:
    # Chainlit's thread history lives in the same database as the sessions, read
    # and written only through the project's own layer (bound SQL, ownership
    # checks); element files (the debrief chart, transcripts) in the data folder.
    files = ElementStore(runtime.settings.data_dir / "files")
    return CoachDataLayer(runtime.store.engine, files)


#: One for the app, so that the lock-out counts failures across requests.
sign_in_limiter = SignInLimiter()


def oauth_role(identifier: str) -> str:
    return "trainer" if identifier.lower() in runtime.settings.oauth_trainer_set else "trainee"


#: Every use of a token is checked against the account as it is now.
credentials = Credentials(
    store=lambda: runtime.store,
    lifetime=lambda: runtime.settings.token_lifetime_hours * 3600,
    oauth_role=oauth_role,
)


def _policy() -> security.Policy:
    settings = runtime.settings
    origins = settings.allowed_origin_list or security.default_origins(
        chainlit_config.run.host, chainlit_config.run.port
    )
    limiter = security.LoginLimiter(settings.login_attempts, settings.login_window_seconds)
    # The lock-out is said by the guard: Chainlit turns any error in the
    # callback below into a bare "sign-in failed".
    return security.Policy(
        origins=frozenset(origins), login=limiter, account_locked=sign_in_limiter.refusal
    )


def thread_name(session: Any) -> str | None:
    """A new thread's name: the scenario (or the dashboard) and the date, in the
    browser's language; never the first reply or a button's name."""
    environ = getattr(session, "environ", None) or {}
    lang = ui_language(environ.get("HTTP_ACCEPT_LANGUAGE"))
    profile = getattr(session, "chat_profile", None)
    if profile == DASHBOARD:
        return chat_view.dashboard_thread_name(datetime.now(), lang)
    persona = runtime.catalog.personas.get(profile or "")
    return chat_view.thread_name(persona, datetime.now(), lang) if persona else None


thread_names.install(thread_name)
avatars.install(chainlit_app)  # customers' avatars (Chainlit's route refuses their names)
stop.install(chainlit_sio)  # before the checks, which wrap it
security.install(_policy(), credentials)
arrival.install(chainlit_sio)  # outermost: a line is noted before the token check awaits


@cl.password_auth_callback
async def sign_in(username: str, password: str) -> cl.User | None:
    try:
        account = await Accounts(runtime.store, sign_in_limiter).authenticate(username, password)
    except SignInLimited as exc:
        # Locked since the guard looked (a race): refused like a wrong password.
        log.warning("sign-in refused: %s", exc)
        return None
    if account is None:
        return None
    # The stamp ties the token to the account's current password and role.
    return cl.User(identifier=account.name, metadata={"role": account.role, STAMP: account.stamp})


@cl.on_logout
async def sign_out(request: Request, response: Response) -> dict[str, bool]:
    """Signing out ends the token on the server too, not only in this browser."""
    if token := get_token_from_cookies(request.cookies):
        await credentials.end(token)
    return {"success": True}


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
    role = oauth_role(default_user.identifier)
    return cl.User(
        identifier=default_user.identifier, metadata={"role": role, "provider": provider_id}
    )


if get_configured_oauth_providers():
    # Chainlit refuses an OAuth callback when no provider is configured.
    cl.oauth_callback(oauth_sign_in)


def role_of(user: cl.User | cl.PersistedUser | None) -> str:
    return str((user.metadata or {}).get("role", "trainee")) if user else "trainee"


def browser_language() -> Language:
    environ = getattr(cl.context.session, "environ", None) or {}
    return ui_language(environ.get("HTTP_ACCEPT_LANGUAGE"))


def session_language() -> Language:
    """The UI language chosen when the chat started (the browser's)."""
    lang: Language | None = cl.user_session.get("lang")
    return lang or browser_language()


def coach_message(content: str, lang: Language, **extra: Any) -> cl.Message:
    return cl.Message(author=t("coach", lang), content=content, **extra)


@cl.set_chat_profiles
async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    lang = ui_language(language)
    allowed = runtime.settings.allowed_persona_languages
    personas = [
        p for p in runtime.catalog.personas.values() if not allowed or p.language in allowed
    ]
    # The browser's language first, then the other; easy scenarios first.
    personas.sort(
        key=lambda p: (p.language != lang, p.language, DIFFICULTY_ORDER[p.difficulty], p.name)
    )
    staff = role_of(user) in STAFF
    profiles = [
        cl.ChatProfile(
            name=p.id,
            display_name=chat_view.profile_display_name(p),
            markdown_description=chat_view.profile_description(p, lang),
            default=i == 0 and not staff,
        )
        for i, p in enumerate(personas)
    ]
    if staff:
        # A trainer's home: first in the list, and where signing in lands.
        home = cl.ChatProfile(
            name=DASHBOARD,
            display_name=t("dashboard.title", lang),
            markdown_description=t("dashboard.description", lang),
            default=True,
        )
        profiles.insert(0, home)
    return profiles


# --- a session --------------------------------------------------------------------------


async def show_mood(
    engine: SessionEngine,
    lang: Language,
    *,
    delta: int = 0,
    reason: str = "",
    pending: bool = False,
) -> None:
    """The mood panel, as it is now (``pending``: a reply is being graded, the
    mood shown is the one before it)."""
    history = engine.mood_trajectory
    props = chat_view.mood_props(
        engine.persona, engine.mood, lang, delta=delta, reason=reason, history=history
    )
    # One element for the whole chat, replaced at each update, named with the
    # panel's title (public/elements/<title>.jsx are links to MoodMeter.jsx).
    # The page keeps every side element it was sent and shows them all in its
    # side view under the last one's name: with a new element each time it
    # stacked every meter ever sent under the title "MoodMeter", the current
    # one last, far below the first, stale one.
    meter_id: str | None = cl.user_session.get("mood_element")
    if meter_id is None:
        meter_id = str(uuid.uuid4())
        cl.user_session.set("mood_element", meter_id)
    count = (cl.user_session.get("mood_updates") or 0) + 1
    cl.user_session.set("mood_updates", count)
    cl.user_session.set("mood_pending", pending)
    element = cl.CustomElement(
        id=meter_id,
        name=t("mood.title", lang),
        display="side",
        props={**props, "pending": pending},
    )
    await cl.ElementSidebar.set_elements([element], key=f"mood-{count}")
    await cl.ElementSidebar.set_title(t("mood.title", lang))


async def settle_mood(engine: SessionEngine, lang: Language) -> None:
    """A turn is over: the panel no longer says it is waiting for the grade
    (a turn stopped, failed or left ungraded may move no mood)."""
    if cl.user_session.get("mood_pending"):
        await show_mood(engine, lang)


async def report_persona_errors(lang: Language) -> None:
    errors = runtime.catalog.errors
    if errors and role_of(cl.user_session.get("user")) in STAFF:
        await coach_message(chat_view.persona_errors_markdown(errors, lang), lang).send()


def started() -> asyncio.Event:
    """Set once the chat has started (or resumed): until then typed lines wait.

    The first of the handlers to ask makes it; Chainlit runs them as
    separate tasks, so a line can arrive before the start has stored anything.
    """
    event: asyncio.Event | None = cl.user_session.get("started")
    if event is None:
        event = asyncio.Event()
        cl.user_session.set("started", event)
    return event


async def engine_when_started() -> SessionEngine | None:
    """This chat's engine, waiting (within a bound) for a start still under way."""
    engine: SessionEngine | None = cl.user_session.get("engine")
    if engine is None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_WAIT_SECONDS):
                await started().wait()
        engine = cl.user_session.get("engine")
    return engine


@cl.on_chat_start
async def on_chat_start() -> None:
    try:
        await start_chat()
    finally:
        started().set()


async def start_chat() -> None:
    lang = browser_language()
    cl.user_session.set("lang", lang)
    if cl.user_session.get(security.REFUSED_THREAD):
        # Opened in place of another account's thread (refused at the socket).
        cl.user_session.set(security.REFUSED_THREAD, False)
        await coach_message(t("session.not_yours", lang), lang).send()
    profile = cl.user_session.get("chat_profile")
    user = cl.user_session.get("user")
    if profile == DASHBOARD and role_of(user) in STAFF:
        await show_dashboard(lang, settings=True)
        return
    persona = runtime.catalog.personas.get(profile or "")
    if persona is None:
        await coach_message(t("unknown_profile", lang), lang).send()
        return
    await report_persona_errors(lang)
    engine = runtime.engine(
        persona,
        user_id=user.identifier if user else None,
        # The scripted customer types like a model would; a model streams anyway.
        word_delay=runtime.settings.typing_delay_seconds,
    )
    await engine.start(thread_id=cl.context.session.thread_id)
    cl.user_session.set("engine", engine)
    if runtime.backend.notice is not None:
        await coach_message(t("offline", lang), lang).send()
    await coach_message(chat_view.scenario_intro(persona, lang), lang).send()
    opening = cl.Message(author=persona.name, content=engine.history[0].content)
    await offer_actions(opening, lang)
    await opening.send()
    await show_mood(engine, lang)


@cl.on_chat_resume
async def on_chat_resume(thread: ThreadDict) -> None:
    try:
        await resume_chat(thread)
    finally:
        started().set()


async def resume_chat(thread: ThreadDict) -> None:
    lang = browser_language()
    cl.user_session.set("lang", lang)
    row = await runtime.store.find_by_thread(thread["id"])
    if row is None:
        return  # a dashboard thread: nothing to continue
    persona = runtime.catalog.get(row.persona_id)
    engine = await runtime.resume(row.id, persona)
    cl.user_session.set("engine", engine)
    # Chainlit replays the stored thread into the page *after* this handler
    # returns, which clears the side panel and the actions sent from here: send
    # them once the replay is on its way.
    cl.user_session.set("resume_task", asyncio.create_task(after_resume(engine, lang)))


async def after_resume(engine: SessionEngine, lang: Language) -> None:
    await asyncio.sleep(RESUME_SETTLE_SECONDS)
    await show_mood(engine, lang)
    if engine.ended:
        await coach_message(t("session.ended", lang), lang).send()
        return
    resumed = coach_message(t("session.resumed", lang, name=engine.persona.name), lang)
    await offer_actions(resumed, lang, take_back=engine.can_take_back)
    await resumed.send()


@cl.action_callback("hint")
async def on_hint(action: cl.Action) -> None:
    await give_hint()


@cl.action_callback("end_session")
async def on_end(action: cl.Action) -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    if engine is not None:
        await end_by_trainee(engine)


async def end_by_trainee(engine: SessionEngine) -> None:
    await settled()  # the debrief reads the last grade
    if not engine.ended:
        await finish(engine, await engine.end("trainee"))


async def withdraw_actions() -> None:
    """Take the Hint and End buttons off the page."""
    for old in cl.user_session.get("actions") or []:
        if isinstance(old, cl.Action):  # a resumed session restores only JSON, not objects
            await old.remove()
    cl.user_session.set("actions", [])


async def offer_actions(message: cl.Message, lang: Language, *, take_back: bool = False) -> None:
    """Hint and End buttons under the customer's latest line (and only there),
    with "take back my reply" when that line answers one of the trainee's."""
    await withdraw_actions()
    actions = [
        cl.Action(name="hint", payload={}, label=t("actions.hint", lang), icon="lightbulb"),
        cl.Action(name="end_session", payload={}, label=t("actions.end", lang), icon="flag"),
    ]
    if take_back:
        label = t("actions.take_back", lang)
        actions.append(cl.Action(name="take_back", payload={}, label=label, icon="undo-2"))
    message.actions = actions
    cl.user_session.set("actions", actions)


async def give_hint() -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    if engine is None:
        return
    await settled()  # the hint reads the last grade
    lang = session_language()
    hint = await engine.hint()
    await coach_message(chat_view.hint_text(hint, lang), lang).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    # Lines sent back to back are played in the order they were sent.
    async with arrival.in_turn(cl.context.session.id, message.id):
        await handle_line(message)


async def handle_line(message: cl.Message) -> None:
    lang = session_language()
    engine = await engine_when_started()
    text = message.content.strip()
    # Typed as text: Chainlit's command chips need a second Enter, which trainees miss.
    command = text[1:].lower() if text.lower() in ("/hint", "/end") else ""
    if engine is None:
        await coach_message(t("unknown_profile", lang), lang).send()
        return
    if command == "hint":
        await give_hint()
        return
    if command == "end":
        await end_by_trainee(engine)
        return
    if engine.ended:
        await coach_message(t("session.ended", lang), lang).send()
        return
    try:
        await play_turn(engine, message, lang)
    except CoachError as exc:
        await coach_message(str(exc), lang).send()


async def play_turn(engine: SessionEngine, message: cl.Message, lang: Language) -> None:
    # The grade's step is opened at once, before the reply, in the same run as
    # the reply (Chainlit's on_message step, under the trainee's message): the
    # page shows a run's children in the order they came, so the grade sits
    # right under the trainee's message, above the reply and any debrief, and
    # is filled in when it is ready. (Its parent was the trainee's message
    # itself, which the page lists after the run: below the reply.)
    run = cl.context.current_run
    grading = cl.Step(
        name=t("grade.grading", lang),
        type="tool",
        parent_id=run.id if run is not None else message.id,
        default_open=False,
        metadata={"avatarName": t("coach", lang)},
    )
    await grading.send()
    await show_mood(engine, lang, pending=True)  # until the grade moves it
    number = len(engine.turns) + 1
    events = engine.turn(message.content)
    cl.user_session.set("replying", True)
    try:
        more = await render(engine, events, lang, grading, until_reply=True)
    except asyncio.CancelledError:
        await events.aclose()
        # Stop: the engine kept the line and marked its grade; show that.
        if len(engine.turns) >= number and (grade := engine.turns[number - 1][1]) is not None:
            await show_grade(grading, grade, lang)
        await settle_mood(engine, lang)
        raise
    except BaseException:
        await events.aclose()
        await settle_mood(engine, lang)
        raise
    finally:
        cl.user_session.set("replying", False)
    if more:
        # The reply is on screen: the input is released now, and the grade, the
        # mood and any ending arrive on their own (the next line waits for them).
        rest = asyncio.create_task(render_rest(engine, events, lang, grading))
        pending: set[asyncio.Task[None]] = cl.user_session.get("after_reply") or set()
        pending.add(rest)
        rest.add_done_callback(pending.discard)
        cl.user_session.set("after_reply", pending)
    else:
        await settle_mood(engine, lang)


async def render_rest(
    engine: SessionEngine, events: AsyncGenerator[Event, None], lang: Language, grading: cl.Step
) -> None:
    try:
        async with contextlib.aclosing(events):
            await render(engine, events, lang, grading)
    finally:
        await settle_mood(engine, lang)


async def settled() -> None:
    """Wait until the grades still arriving in this chat are shown (tests, shutdown)."""
    pending: set[asyncio.Task[None]] = cl.user_session.get("after_reply") or set()
    await asyncio.gather(*pending)


@cl.action_callback("retry_reply")
async def on_retry(action: cl.Action) -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    if engine is None:
        return
    lang = session_language()
    await action.remove()
    if not engine.can_retry:  # a stale button: the customer has answered since
        await coach_message(t("session.nothing_to_retry", lang), lang).send()
        return
    try:
        async with contextlib.aclosing(engine.retry_reply()) as events:
            await render(engine, events, lang, None)
    except CoachError as exc:
        await coach_message(str(exc), lang).send()


@cl.action_callback("take_back")
async def on_take_back(action: cl.Action) -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    if engine is None:
        return
    lang = session_language()
    await settled()  # the reply's grade and mood first, so the mood goes back from them
    if engine.ended:
        await coach_message(t("session.ended", lang), lang).send()
        return
    if not engine.can_take_back:
        await coach_message(t("session.nothing_to_take_back", lang), lang).send()
        return
    try:
        event = await engine.take_back()
    except CoachError as exc:
        await coach_message(str(exc), lang).send()
        return
    text = t("session.taken_back", lang, turn=event.turn)
    notice = coach_message(text, lang)
    await offer_actions(notice, lang, take_back=engine.can_take_back)
    await notice.send()
    await show_mood(engine, lang, delta=event.after - event.before)


@cl.on_stop
async def on_stop() -> None:
    engine: SessionEngine | None = cl.user_session.get("engine")
    # Only a reply under way is stopped; a grade still arriving comes anyway.
    if engine is not None and not engine.ended and cl.user_session.get("replying"):
        lang = session_language()
        await coach_message(t("session.stopped", lang), lang).send()


async def render(
    engine: SessionEngine,
    events: AsyncIterator[Event],
    lang: Language,
    grading: cl.Step | None,
    *,
    until_reply: bool = False,
) -> bool:
    """Show a turn's (or a retried reply's) events as they come.

    With ``until_reply``, stop once the customer's reply is on screen (or has
    failed) and say whether events remain.
    """
    persona = engine.persona
    reply: cl.Message | None = None
    async for event in events:
        match event:
            case CustomerChunk(text=text):
                if reply is None:
                    reply = cl.Message(author=persona.name, content="")
                await reply.stream_token(text)
            case CustomerSaid(status="final", content=content):
                await cl.Message(author=persona.name, content=content).send()
            case CustomerSaid(status=status, content=content):
                if reply is None:
                    await cl.Message(author=persona.name, content=content).send()
                else:
                    reply.content = content
                    if status != "partial":
                        await offer_actions(reply, lang, take_back=True)
                    # A streamed reply cut by a failure, or replaced by the guard, is rewritten.
                    if status in ("partial", "replaced"):
                        await reply.update()
                    else:
                        await reply.send()
                    reply = None
                if until_reply:
                    return True
            case GradeReady(grade=grade) if grading is not None:
                await show_grade(grading, grade, lang)
            case MoodChanged(delta=delta, reason=reason):
                await show_mood(engine, lang, delta=delta, reason=reason)
            case Failure(message=text):
                label = t("actions.retry", lang)
                retry = cl.Action(name="retry_reply", payload={}, label=label, icon="rotate-ccw")
                failure = coach_message(chat_view.failure_text(text, lang), lang, actions=[retry])
                await failure.send()
                if until_reply:
                    return True
            case SessionEnded():
                await finish(engine, event)
            case TraineeSaid() | SessionStarted() | GradeReady():
                continue  # the trainee's own message is already on screen
    return False


async def show_grade(step: cl.Step, grade: Grade, lang: Language) -> None:
    step.name = chat_view.grade_title(grade, lang)
    step.output = chat_view.grade_markdown(grade, lang)
    step.end = utc_now()
    await step.update()


def markdown_download(data: dict[str, Any], stem: str, when: datetime, lang: Language) -> Any:
    """The graded transcript to read."""
    return cl.File(
        name=transcripts.transcript_filename(stem, when, "md"),
        content=transcripts.transcript_markdown(data, lang).encode(),
        display="inline",
        mime="text/markdown",
    )


def trainer_markdown_download(content: str, stem: str, when: datetime) -> Any:
    """What a trainer reads on screen (transcript, hints, debrief), as a file."""
    return cl.File(
        name=transcripts.transcript_filename(stem, when, "md"),
        content=content.encode(),
        display="inline",
        mime="text/markdown",
    )


def json_download(data: dict[str, Any], stem: str, when: datetime) -> Any:
    """The graded transcript to process."""
    return cl.File(
        name=transcripts.transcript_filename(stem, when, "json"),
        content=transcripts.transcript_json(data).encode(),
        display="inline",
        mime="application/json",
    )


async def finish(engine: SessionEngine, ended: SessionEnded) -> None:
    lang = session_language()
    await withdraw_actions()  # nothing to hint or end any more
    assert engine.session_id is not None
    stored = await runtime.store.load(engine.session_id)
    assert stored is not None
    data = transcripts.transcript(stored, engine.persona)
    chart = cl.Plotly(
        name="debrief-chart",
        figure=debrief_view.debrief_figure(ended.debrief, lang),
        display="inline",
        size="large",
    )
    now, stem = datetime.now(), engine.persona.id
    files = [markdown_download(data, stem, now, lang), json_download(data, stem, now)]
    content = debrief_view.debrief_markdown(ended.debrief, lang)
    await coach_message(content, lang, elements=[chart, *files]).send()


# --- trainers ----------------------------------------------------------------------------


def persona_names() -> dict[str, str]:
    return {p.id: p.name for p in runtime.catalog.personas.values()}


async def show_dashboard(lang: Language, *, settings: bool = False) -> None:
    """The dashboard under the filters in force; ``settings``: (re)build the
    filters' panel too (when the dashboard chat starts)."""
    data = await dashboard.load_dashboard(runtime.store, cl.user_session.get("filters"))
    names = persona_names()
    if settings:
        await cl.ChatSettings(dashboard.filter_widgets(data, names, lang)).send()
    elements: list[Any] = []
    if data.progress:
        figure = dashboard.progress_figure(data.progress, lang)
        elements.append(cl.Plotly(name="progress", figure=figure, display="inline", size="large"))
    actions = [
        cl.Action(
            name="open_session",
            payload={"session": row.id},
            label=dashboard.open_label(row, names, lang),
        )
        for row in data.sessions[: dashboard.OPEN_LIMIT]
    ]
    actions.append(
        cl.Action(
            name="export_dashboard", payload={}, label=t("board.export", lang), icon="download"
        )
    )
    content = dashboard.dashboard_markdown(data, names, lang)
    content += "\n\n" + t("board.settings_hint", lang)
    await coach_message(content, lang, elements=elements, actions=actions).send()
    await report_persona_errors(lang)


@cl.on_settings_update
async def on_filters(values: dict[str, Any]) -> None:
    """The dashboard's filters changed in the settings panel (the only settings)."""
    if cl.user_session.get("chat_profile") != DASHBOARD:
        return  # a scenario's chat has no settings to change
    if await staff_only("trainer_only") is None:
        return
    lang = session_language()
    try:
        filters = dashboard.parse_filters(values)
    except dashboard.FilterError as exc:
        await coach_message(dashboard.filter_refusal(exc, lang), lang).send()
        filters = None
    cl.user_session.set("filters", filters)
    await show_dashboard(lang)


@cl.action_callback("export_dashboard")
async def export_dashboard(action: cl.Action) -> None:
    """The dashboard as filtered, as CSV and as Markdown with every debrief."""
    if await staff_only("board.export_refused") is None:
        return
    lang = session_language()
    data = await dashboard.load_dashboard(runtime.store, cl.user_session.get("filters"))
    debriefs: dict[str, str] = {}
    for row in data.sessions:
        stored = await runtime.store.load(row.id)
        persona = runtime.catalog.personas.get(row.persona_id)
        if stored is None or persona is None:
            continue
        debrief = transcripts.stored_debrief(stored, persona)
        if debrief is not None:
            debriefs[row.id] = debrief_view.debrief_markdown(debrief, lang, downloads=False)
    names, stem = persona_names(), dashboard.export_stem(datetime.now())
    files = [
        cl.File(
            name=f"{stem}.csv",
            content=dashboard.sessions_csv(data, names).encode(),
            display="inline",
            mime="text/csv",
        ),
        cl.File(
            name=f"{stem}.md",
            content=dashboard.export_markdown(data, names, debriefs, lang).encode(),
            display="inline",
            mime="text/markdown",
        ),
    ]
    await coach_message(t("board.exported", lang), lang, elements=files).send()


async def staff_only(refusal: str) -> cl.User | cl.PersistedUser | None:
    """The signed-in trainer or evaluator; anyone else is told ``refusal`` (a
    catalogue key) and gets None. Asked on every trainer action: a page can
    send any action name, whatever buttons it was shown."""
    user = cl.user_session.get("user")
    if user is not None and role_of(user) in STAFF:
        return user  # type: ignore[no-any-return]
    lang = session_language()
    await coach_message(t(refusal, lang), lang).send()
    return None


@cl.action_callback("open_session")
async def open_session(action: cl.Action) -> None:
    if await staff_only("trainer_only") is None:
        return
    lang = session_language()
    stored = await runtime.store.load(str(action.payload.get("session")))
    if stored is None:
        return
    persona = runtime.catalog.personas.get(stored.row.persona_id)
    if persona is None:
        return
    data = transcripts.transcript(stored, persona)
    content = transcripts.transcript_markdown(data, lang)
    debrief = transcripts.stored_debrief(stored, persona)
    if debrief is not None:
        content += "\n\n" + debrief_view.debrief_markdown(debrief, lang, downloads=False)
    stem, when = stored.row.id[:8], stored.row.started_at
    elements: list[Any] = [
        trainer_markdown_download(content, stem, when),
        json_download(data, stem, when),
    ]
    if any(turn.grade is not None for turn in stored.turns):
        props = transcripts.correction_props(stored, lang)
        elements.append(cl.CustomElement(name="VerdictCorrection", props=props, display="inline"))
    await coach_message(content, lang, elements=elements).send()


@cl.action_callback("correct_verdict")
async def correct_verdict(action: cl.Action) -> None:
    """A trainer marks a verdict as wrong (sent by the correction form)."""
    user = await staff_only("corrections.refused")
    if user is None:
        return
    lang = session_language()
    try:
        row = await corrections.record(runtime.store, action.payload, trainer=user.identifier)
    except CorrectionError as exc:
        await coach_message(transcripts.correction_refusal(exc, lang), lang).send()
        return
    await coach_message(transcripts.correction_saved(row, lang), lang).send()
