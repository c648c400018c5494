"""The web app end to end in real headless Chromium, started as the README starts it.

Debian's chromium driven by Playwright, offline, outside requests blocked.
Skipped when Chromium or Playwright is missing, unless COACH_REQUIRE_BROWSER=1
(as in CI), which turns the skip into a failure. Screenshots of the
conversation, a grade, the debrief and a phone are taken on every run; with
COACH_UPDATE_SCREENSHOTS=1 they replace the ones in docs/screenshots/ (the
README shows those), otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.web.local_app import LocalApp as App
from tests.conftest import flag

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct-horse-1"
#: Generous: CI machines have two cores and may be busy compiling or serving a model.
WAIT = 90_000
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not flag("COACH_REQUIRE_BROWSER"):
    pytest.importorskip("playwright.async_api")


def _require_browser() -> None:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if flag("COACH_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    _require_browser()
    server = App(tmp_path, demo=True)
    for name, role in (("alice", "trainee"), ("bob", "trainee"), ("tina", "trainer")):
        server.coach("users", "add", name, "--role", role, "--password", PASSWORD)
    server.start()
    yield server
    server.stop()


async def sign_in(browser: Any, app: App, name: str, width: int = 1400) -> Any:
    context = await browser.new_context(
        locale="fr-FR",
        extra_http_headers={"Accept-Language": "fr-FR,fr;q=0.9"},
        viewport={"width": width, "height": 950 if width > 800 else 844},
    )
    # Offline means offline: the page may ask for web fonts, nothing leaves loopback.
    await context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda r: r.abort())
    page = await context.new_page()
    page.set_default_timeout(WAIT)
    await page.goto(app.url + "/login")
    # Accounts are names: the form asks for one (the field keeps Chainlit's id).
    assert await page.inner_text("label[for=email]") == "Nom d'utilisateur"
    await page.fill("input[name=email]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#chat-input", timeout=WAIT)
    return page


async def pick_profile(page: Any, label: str) -> None:
    await page.click("#chat-profiles")
    await page.get_by_role("option", name=label).click()
    # Switching away from a started chat asks for a confirmation, which can
    # take a moment to appear on a loaded machine: wait for it or the switch.
    picked = page.locator("#chat-profiles").filter(has_text=label)
    confirm = page.get_by_role("button", name=re.compile("Confirmer|Confirm"))
    await picked.or_(confirm).first.wait_for()
    if await confirm.count():
        await confirm.first.click()
    await picked.wait_for()


async def send(page: Any, text: str, expected_grades: int) -> None:
    await page.fill("#chat-input", text)
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        """n => [...document.querySelectorAll('.step[data-step-type="tool"]')]
               .filter(s => /Note|Non noté/.test(s.innerText)).length >= n""",
        arg=expected_grades,
        timeout=WAIT,
    )


async def mood(page: Any) -> int:
    return int(await page.get_attribute("#mood-meter", "data-mood"))


async def sign_out(page: Any) -> None:
    await page.context.close()


async def test_trainee_session_restart_debrief_and_roles(app: App) -> None:
    from playwright.async_api import async_playwright

    update = flag("COACH_UPDATE_SCREENSHOTS")
    shots = ROOT / "docs" / "screenshots" if update else app.workdir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await sign_in(browser, app, "alice")
        await pick_profile(page, "FR · Monique, son chien Filou est mort")
        await page.get_by_text("il est mort hier soir").wait_for(timeout=WAIT)
        await page.wait_for_selector("#mood-meter")
        start = await mood(page)
        assert start == 7
        customer = page.locator('.step[data-step-type="assistant_message"]')
        before = await customer.count()

        # One reply with a blocking phrase: the customer gets angrier.
        await send(page, "Calmez-vous madame, quel est votre numéro de commande ?", 1)
        await page.wait_for_function(
            """s => { const m = document.querySelector('#mood-meter');
                      return m && m.dataset.pending === 'false' && Number(m.dataset.mood) > s; }""",
            arg=start,
        )
        angrier = await mood(page)
        assert "phrase bloquante" in await page.inner_text("#mood-delta")
        # One meter, under its title (the page once stacked every meter ever sent).
        assert await page.locator("#mood-meter").count() == 1
        assert await page.inner_text("#side-view-title") == "Humeur du client"
        # The grade sits under the trainee's message, above the customer's reply.
        said = page.locator('.step[data-step-type="user_message"]').first
        grade = page.locator('.step[data-step-type="tool"]').first
        reply = customer.nth(before)
        await reply.wait_for()
        tops = [(await x.bounding_box())["y"] for x in (said, grade, reply)]
        assert tops == sorted(tops), tops
        # The customer has an avatar and a name (the avatar route answered 400).
        avatar = page.locator('img[alt="Avatar for Monique, son chien Filou est mort"]').first
        await page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=await avatar.element_handle()
        )
        # The thread is named after the scenario from the start, not the first reply.
        history = page.locator("#thread-history")
        await history.get_by_text("Monique").first.wait_for()
        assert "Calmez-vous" not in await history.inner_text()
        await send(
            page,
            "Je suis sincèrement désolée pour Filou, mes condoléances. Je comprends "
            "à quel point c'est douloureux.",
            2,
        )
        await send(
            page,
            "Si je comprends bien, vous voulez annuler la commande avant l'envoi, "
            "c'est bien cela ?",
            3,
        )
        await page.wait_for_function(
            "a => Number(document.querySelector('#mood-meter')?.dataset.mood) < a", arg=angrier
        )
        assert await customer.count() >= before + 3  # a customer reply to each message
        await page.screenshot(path=str(shots / "conversation.png"))

        # Open the first grade: verdicts with quoted evidence, score and feedback.
        first_grade = page.locator('.step[data-step-type="tool"]').first
        await first_grade.locator("button").first.click()
        await page.wait_for_timeout(300)
        graded = await first_grade.inner_text()
        assert "Aucune phrase bloquante" in graded and "Calmez-vous" in graded
        assert "Note" in graded
        await first_grade.screenshot(path=str(shots / "grade-step.png"))
        await page.context.close()

    # Restart the app: nothing is lost.
    app.stop()
    # (Signing in opened the default scenario first: a session nobody replied in.)
    sessions = app.rows(
        "select user_id, persona_id, status from coach_sessions where id in "
        "(select session_id from coach_messages where role = 'trainee')"
    )
    assert sessions == [("alice", "fr-deuil-chien", "active")]
    assert app.rows("select count(*) from coach_messages where role='trainee'") == [(3,)]
    assert app.rows("select count(*) from coach_grades") == [(3,)]
    thread = app.rows("select id, name, userIdentifier from threads")
    assert len(thread) == 1 and thread[0][2] == "alice" and "Monique" in thread[0][1]
    assert app.rows('select count(*) from steps where type = "tool"')[0][0] == 3
    app.start()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await sign_in(browser, app, "alice")
        await page.locator("#thread-history").get_by_text("Monique").first.click()
        await page.wait_for_selector("#mood-meter", timeout=WAIT)
        assert await mood(page) < angrier  # the mood came back with the session
        await page.get_by_text("Session reprise").wait_for()
        assert await page.locator('.step[data-step-type="user_message"]').count() == 3

        # End the session: the debrief with its chart and downloads.
        await page.get_by_role("button", name="Terminer").last.click()
        await page.get_by_role("heading", name="Bilan").wait_for(timeout=WAIT)
        await page.wait_for_selector(".js-plotly-plot", timeout=WAIT)
        debrief = page.locator('.step[data-step-type="assistant_message"]').last
        text = await debrief.inner_text()
        assert "Trois axes de progrès" in text and "Résultats par critère" in text
        assert await page.get_by_text(re.compile(r"transcript-fr-deuil-chien.*\.json")).count()
        await page.get_by_role("heading", name="Bilan").scroll_into_view_if_needed()
        await page.screenshot(path=str(shots / "debrief.png"))
        chart = page.locator(".js-plotly-plot").last
        await chart.scroll_into_view_if_needed()
        await page.wait_for_timeout(500)
        await chart.screenshot(path=str(shots / "debrief-chart.png"))
        assert app.rows(
            "select status, end_reason from coach_sessions where persona_id = 'fr-deuil-chien'"
        ) == [("ended", "trainee")]
        await sign_out(page)

        # Another trainee does not see Alice's session.
        page = await sign_in(browser, app, "bob")
        await page.wait_for_timeout(1500)
        assert await page.locator("#thread-history").get_by_text("Monique").count() == 0
        await sign_out(page)

        # On a phone the mood is a badge: no sheet over the chat, none reopening.
        page = await sign_in(browser, app, "bob", width=390)
        badge = page.locator("#mood-badge")
        await badge.wait_for(timeout=WAIT)
        await send(page, "Bonjour, je suis désolée pour ce double prélèvement.", 1)
        await page.wait_for_function(
            "() => document.querySelector('#mood-badge')?.dataset.pending === 'false'"
        )
        assert await page.locator('[role="dialog"]').count() == 0
        assert await page.evaluate(
            """() => { const r = document.querySelector('#chat-input').getBoundingClientRect();
                       const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                       return !!at && !!at.closest('#chat-input'); }"""
        )
        assert "/10" in await badge.inner_text()
        await page.screenshot(path=str(shots / "phone.png"))
        await sign_out(page)

        # A trainer sees it on the dashboard.
        page = await sign_in(browser, app, "tina")
        await pick_profile(page, "Tableau de bord formateur")
        dashboard = page.locator('.step[data-step-type="assistant_message"]').filter(
            has_text="Tableau de bord formateur"
        )
        await dashboard.wait_for(timeout=WAIT)
        table = await dashboard.inner_text()
        assert "alice" in table and "Monique" in table
        open_alice = page.get_by_role("button", name=re.compile(r"Ouvrir\s*: alice")).first
        await open_alice.wait_for(timeout=WAIT)
        await open_alice.click()
        transcript = page.locator('.step[data-step-type="assistant_message"]').filter(
            has_text="Calmez-vous madame"
        )
        await transcript.first.wait_for(timeout=WAIT)
        await browser.close()
