"""A trainer's tools in real headless Chromium: signing in lands on the
dashboard, a transcript opens with its correction form, and a verdict marked
wrong in that form is stored (the form's callAction through Chainlit's page)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.browser.test_web_app import CHROMIUM, FLAGS, WAIT, App, pick_profile, send, sign_in
from tests.browser.test_web_app import app as app  # the fixture

pytestmark = pytest.mark.browser


async def test_a_trainer_lands_on_the_dashboard_and_marks_a_verdict_wrong(app: App) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await sign_in(browser, app, "alice")
        await pick_profile(page, "FR · Monique, son chien Filou est mort")
        await page.get_by_text("il est mort hier soir").wait_for(timeout=WAIT)
        await send(page, "Calmez-vous, quel est votre numéro de commande ?", 1)
        await page.context.close()

        page = await sign_in(browser, app, "tina")
        # No scenario to pick: the dashboard is where a trainer lands.
        board = page.locator('.step[data-step-type="assistant_message"]').filter(
            has_text="Tableau de bord formateur"
        )
        await board.wait_for(timeout=WAIT)
        assert "Ce que le groupe manque le plus" in await board.inner_text()
        await page.get_by_role("button", name=re.compile(r"Ouvrir\s*: alice")).first.click()
        form = page.locator("#verdict-correction")
        await form.wait_for(timeout=WAIT)
        await form.locator("select[name=criterion]").select_option("no_blocking_phrase")
        await form.locator("select[name=verdict]").select_option("met")
        await form.locator("textarea[name=comment]").fill("Cité, pas dit au client.")
        await form.locator("button[type=submit]").click()
        saved = page.locator('.step[data-step-type="assistant_message"]').filter(
            has_text="Correction enregistrée"
        )
        await saved.wait_for(timeout=WAIT)
        await page.screenshot(path=str(app.workdir / "correction.png"), full_page=True)
        await browser.close()
    with sqlite3.connect(app.data / "coach.db") as db:
        stored = db.execute(
            "select trainer, criterion, old_verdict, new_verdict from coach_corrections"
        ).fetchall()
    assert stored == [("tina", "no_blocking_phrase", "missed", "met")]
