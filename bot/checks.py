"""Deterministic, bilingual checks of one trainee turn.

The phrase lists are data (``bot/lexicon/*.txt``); this module holds the rules
that turn what they find into verdicts. Every finding carries the words that
justify it. A finding is *authoritative* when it rests on words actually found
(a blocking phrase, an apology, a filler) or on the structure of the
conversation (an opening criterion on a later turn): the LLM layer cannot
overrule it. Verdicts that rest on the absence of words (no apology found, so
``missed``) are defaults the LLM may correct, because a list can never hold
every way to apologise.

Criteria the rubric marks "judgement" get *hints* here (an emotion named, a
"you should have"): the LLM decides them, with the hints in its prompt; in
checks-only mode the hints are the verdict and everything else is ``na``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.conversation import Message, last_customer_message, trainee_messages
from bot.lexicon import Lexicon, Match, load_lexicon
from bot.lexicon.lemmas import lemma_table, lemma_view
from bot.lexicon.phrases import Phrase, parse_phrase
from bot.rubric import CRITERIA, CRITERION_IDS, CriterionResult, Language, Verdict
from bot.text import Folded, fold

#: How far before a violation a "I won't tell you ..." or "they told you ..." may stand.
_NEGATION_WINDOW = 60
#: A denial covers its own clause only: a comma, colon, semicolon or dash
#: after it starts a new one ("Don't call me an idiot, you're the one
#: shouting like a lunatic" still says "lunatic").
_CLAUSE_BREAK = re.compile(r"[,;:\u2013\u2014]| - ")
#: How far before a persona's phrase a denial (« ne ... pas », "can't") may stand.
_DENIAL_WINDOW = 30
#: How far apart two words may stand and still be read as one clause.
_CLAUSE_REACH = 60
#: What starts a new clause between two words: a semicolon or colon, a
#: conjunction, or a comma before a new subject.
_NEW_CLAUSE = re.compile(
    r"[;:\u2013\u2014]|\b(?:mais|et|puis|ensuite|but|and|then)\b"
    r"|,\s*(?:je|j'|il|elle|on|nous|ils|elles|i|we|he|she|they|it)\b"
)
#: Words of the folded text.
_WORDS = re.compile(r"[a-z0-9']+")
#: Words that make even a two-word sentence say something (« Je vois. », "I see.").
_FIRST_PERSON = frozenset({"je", "j'", "i", "i'm", "i'll", "i've", "moi", "me"})
#: An apology in the company's voice ("we apologise", « nous sommes navrés »).
_CORPORATE = re.compile(r"^(?:we\b|we'|our\b|nous\b|nos\b|toutes nos\b|veuillez nous\b)")
#: How many sentences at the start of a first reply count as its opening.
_OPENING_SENTENCES = 2
#: The criteria the rules written below decide. Any other "check" or "both"
#: criterion names a phrase list in ``bot/rubric.yaml`` (``check:``), and the
#: generic rule in :func:`_rubric_rules` decides it.
CODED_CRITERIA: tuple[str, ...] = (
    "no_blocking_phrase",
    "no_filler",
    "apologize",
    "reformulate",
    "personal_language",
    "positive_opening",
    "narrate_action",
    "no_hold",
    "concrete_timeline",
    "check_other_concerns",
    "thank_close",
)


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    evidence: str | None = None
    authoritative: bool = False

    def result(self) -> CriterionResult:
        return CriterionResult(
            verdict=self.verdict,
            evidence=self.evidence,
            source="check",
            basis="found" if self.authoritative else "not_found",
        )


@dataclass
class CheckReport:
    """What the checks found in one turn."""

    language: Language
    #: Verdicts for the criteria the checks decide (every "check" criterion).
    findings: dict[str, Finding] = field(default_factory=dict)
    #: Lexical hints for judgement criteria (only those where something fired).
    hints: dict[str, Finding] = field(default_factory=dict)
    #: Words that try to instruct the grader ("ignore your instructions", "SYSTEM:").
    injection: list[str] = field(default_factory=list)
    #: Where those attacks are, as spans of the original text (whole sentences,
    #: or whole lines for "SYSTEM:" blocks and JSON), to cut before a model reads it.
    attack_spans: list[tuple[int, int]] = field(default_factory=list)
    #: The customer's last message contains insults or threats.
    abusive_customer: bool = False
    #: The turn closes the conversation (a farewell).
    closing: bool = False

    def checks_only_criteria(self) -> dict[str, CriterionResult]:
        """Every criterion, decided by the checks alone; judgement criteria with
        no hint are ``na`` (not assessed)."""
        out: dict[str, CriterionResult] = {}
        for cid in CRITERION_IDS:
            finding = self.findings.get(cid) or self.hints.get(cid)
            out[cid] = (
                finding.result() if finding else CriterionResult(verdict="na", source="check")
            )
        return out

    def violations(self) -> dict[str, Finding]:
        """Authoritative ``missed`` findings: what the LLM can never overrule."""
        both = {**self.hints, **self.findings}
        return {c: f for c, f in both.items() if f.verdict == "missed" and f.authoritative}


def _evidence(matches: Sequence[Match]) -> str | None:
    seen: list[str] = []
    for m in matches:
        if m.evidence and m.evidence not in seen:
            seen.append(m.evidence)
    return "; ".join(seen) if seen else None


class _Turn:
    """One text with lazily computed matches per list."""

    def __init__(self, lexicon: Lexicon, text: str) -> None:
        self.lexicon = lexicon
        self.folded: Folded = lexicon.respell(fold(text))
        self._cache: dict[str, list[Match]] = {}

    def find(self, name: str) -> list[Match]:
        if name not in self._cache:
            self._cache[name] = self.lexicon.find(name, self.folded)
        return self._cache[name]

    def said(self, name: str, *, loose: bool = False) -> list[Match]:
        """Matches the trainee actually says: not quoted (``find`` already
        drops those) and not introduced by "I won't tell you" or "they told you".

        A denial covers only what directly follows it in its own clause: a
        contrast word ("I'm not saying this to be rude, but you misunderstood")
        or a clause break in between ends its scope. With ``loose``, matches
        the loose view alone finds (punctuation between the words of a phrase)
        count too.
        """
        kept = self._said_in(self.folded, name)
        if loose and (view := self.folded.loose()) is not self.folded:
            taken = [(self.folded.index[m.start], self.folded.index[m.end - 1]) for m in kept]
            for m in self._said_in(view, name):
                start, end = view.index[m.start], view.index[m.end - 1]
                if not any(a <= end and start <= b for a, b in taken):
                    kept.append(m)
        return kept

    def _in(self, folded: Folded, name: str) -> list[Match]:
        """``find`` in either view, each list looked up once per view."""
        if folded is self.folded:
            return self.find(name)
        key = f"loose:{name}"
        if key not in self._cache:
            self._cache[key] = self.lexicon.find(name, folded)
        return self._cache[key]

    def _said_in(self, folded: Folded, name: str) -> list[Match]:
        matches = self._in(folded, name)
        if not matches:
            return []
        negations = self._in(folded, "speech_negation")
        contrasts = self._in(folded, "contrast") if negations else []
        kept = []
        for m in matches:
            sentence_start, _ = folded.sentence_bounds(m.start)
            window_start = max(sentence_start, m.start - _NEGATION_WINDOW)
            denied = any(
                window_start <= n.start
                and n.end <= m.start + 1
                and not any(n.end <= c.start and c.end <= m.start for c in contrasts)
                and not _CLAUSE_BREAK.search(folded.text, n.end, m.start)
                for n in negations
            )
            if not denied:
                kept.append(m)
        return kept

    def refused(self, matches: Sequence[Match]) -> tuple[list[Match], list[Match]]:
        """Split matches into those said and those a denial just before them in
        their clause refuses ("I won't put you on hold", « sans vous faire
        patienter »)."""
        said: list[Match] = []
        refused: list[Match] = []
        for m in matches:
            (refused if self._denied_before(m.start) else said).append(m)
        return said, refused

    def _denied_before(self, start: int) -> bool:
        sentence_start, _ = self.folded.sentence_bounds(start)
        window = max(sentence_start, start - _DENIAL_WINDOW)
        for n in self.find("negation"):
            if not window <= n.start < start or n.end > start:
                continue
            between = self.folded.text[n.end : start]
            if not _CLAUSE_BREAK.search(between) and not any(
                n.end <= c.start and c.end <= start for c in self.find("contrast")
            ):
                return True
        return False

    def surprise(self, match: Match) -> bool:
        """A wait word opening a question ("Wait, so it never arrived?",
        « Attendez, vous dites qu'il n'est jamais arrivé ? »): surprise, not a hold."""
        sentence_start, _ = self.folded.sentence_bounds(match.start)
        opens = not self.folded.text[sentence_start : match.start].strip(" ,")
        after = self.folded.text[match.end : match.end + 2]
        return self.in_question(match) and opens and after.startswith((",", " ,"))

    def in_reformulation(self, match: Match) -> bool:
        """The match's sentence restates the customer's words (« si je comprends
        bien, ... », "so ..., is that right?")."""
        bounds = self.folded.sentence_bounds(match.start)
        return any(
            self.folded.sentence_bounds(r.start) == bounds for r in self.find("reformulation")
        )

    def same_clause(self, a: Match, b: Match) -> bool:
        """Two matches in one clause: the same sentence, close, and no new
        clause (a semicolon, "and", « mais », a new subject after a comma) between."""
        if self.folded.sentence_bounds(a.start) != self.folded.sentence_bounds(b.start):
            return False
        first, second = (a, b) if a.start <= b.start else (b, a)
        between = self.folded.text[first.end : second.start]
        return len(between) <= _CLAUSE_REACH and not _NEW_CLAUSE.search(between)

    def in_question(self, match: Match) -> bool:
        """The match's sentence is a question."""
        _, end = self.folded.sentence_bounds(match.start)
        return self.folded.text[end : end + 1] == "?"

    def phrases(self, phrases: Sequence[str]) -> list[Match]:
        """Where any of these literal phrases is said (folded, whole words, not quoted)."""
        found: list[Match] = []
        quoted = self.folded.quoted_spans()
        for view in {self.folded, self.folded.loose()}:
            for phrase in phrases:
                needle = fold(phrase).text.strip(" .!?,;:")
                if not needle:
                    continue
                for m in re.finditer(rf"(?<!\w){re.escape(needle)}(?!\w)", view.text):
                    if view is self.folded and any(a <= m.start() < b for a, b in quoted):
                        continue
                    found.append(Match(m.start(), m.end(), view.source(m.start(), m.end())))
        return found

    def persona_phrases(self, lines: Sequence[str]) -> dict[str, str]:
        """Which of a persona's phrase lines (``bot/lexicon/phrases.py``) the
        trainee says, each with its words as typed: not quoted, not denied
        earlier in its clause or inside it (« je ne peux pas annuler la
        commande », "the order is not cancelled"), and not in a question or a
        reformulation of the customer's words."""
        phrases = [p for p in map(parse_phrase, lines) if p is not None]
        lemma_words = frozenset(w for p in phrases if p.lemmas for w in p.words)
        lemmas = (
            lemma_view(self.folded, lemma_table(self.lexicon.language, lemma_words))
            if lemma_words
            else None
        )
        said: dict[str, str] = {}
        for phrase in phrases:
            span = self._phrase_span(phrase, lemmas if phrase.lemmas else None)
            if span is not None:
                said[phrase.line] = self.folded.source(*span)
        return said

    def _phrase_span(self, phrase: Phrase, lemmas: Folded | None) -> tuple[int, int] | None:
        """The first place ``phrase`` is said, in folded coordinates."""
        text = lemmas.text if lemmas is not None else self.folded.text
        quoted = self.folded.quoted_spans()
        for m in phrase.regex.finditer(text):
            start, end = m.span()
            if lemmas is not None:
                start, end = lemmas.index[start], lemmas.index[end - 1] + 1
            if any(a <= start < b for a, b in quoted) or self._denied(start, end):
                continue
            if self._asked_or_restated(start):
                continue
            return start, end
        return None

    def _asked_or_restated(self, position: int) -> bool:
        """The sentence asks (« voulez-vous que j'annule ? ») or restates what
        the customer said (« si je comprends bien, vous voulez annuler ... »):
        neither is the trainee doing it."""
        sentence_start, sentence_end = self.folded.sentence_bounds(position)
        if self.folded.text[sentence_end : sentence_end + 1] == "?":
            return True
        return any(sentence_start <= m.start < position for m in self.find("reformulation"))

    def _denied(self, start: int, end: int) -> bool:
        """A denial stands inside the span, or just before it in its clause."""
        sentence_start, _ = self.folded.sentence_bounds(start)
        window = max(sentence_start, start - _DENIAL_WINDOW)
        for n in self.find("negation"):
            if n.start >= end or n.start < window:
                continue
            if n.start >= start:
                return True
            between = self.folded.text[n.end : start]
            if not _CLAUSE_BREAK.search(between) and not any(
                n.end <= c.start and c.end <= start for c in self.find("contrast")
            ):
                return True
        return False

    def without(self, name: str, exclusions: str) -> list[Match]:
        """Matches of ``name`` not overlapping a match of ``exclusions``."""
        excluded = self.find(exclusions)
        return [
            m
            for m in self.find(name)
            if not any(e.start < m.end and m.start < e.end for e in excluded)
        ]

    def apologies(self) -> list[Match]:
        """Personal apologies: not "sorry, but that's the rule", and not the
        company's formula alone ("We apologise for any inconvenience", « Nous
        sommes navrés »), which apologises for no one in particular."""
        return [m for m in self.without("apology", "non_apology") if not _corporate(m)]

    def in_opening(self, matches: Sequence[Match]) -> list[Match]:
        """The matches in the opening sentences; a sentence of one or two words
        with no "I" in it (« Oh, madame... », "Hi.") opens nothing and is not counted."""
        text = self.folded.text
        cut, counted = 0, 0
        while counted < _OPENING_SENTENCES and cut < len(text):
            start, end = self.folded.sentence_bounds(cut)
            words = _WORDS.findall(text, start, end)
            if len(words) > 2 or _FIRST_PERSON.intersection(words):
                counted += 1
            cut = min(len(text), end + 1)
        return [m for m in matches if m.start < cut]


def run_checks(
    turn: str,
    language: Language,
    history: Sequence[Message] = (),
    *,
    triggers: Sequence[str] = (),
) -> CheckReport:
    """Check one trainee turn. ``history`` is the conversation before it;
    ``triggers`` are a persona's own phrases that hurt like contempt."""
    lexicon = load_lexicon(language)
    t = _Turn(lexicon, turn)
    history = list(history)
    earlier = [_Turn(lexicon, text) for text in trainee_messages(history)]
    report = CheckReport(language=language)
    f = report.findings
    report.closing = bool(t.find("farewell"))

    # --- violations: found words decide, absence means met ---------------------
    blocking = t.said("blocking", loose=True)
    f["no_blocking_phrase"] = (
        Finding("missed", _evidence(blocking), True) if blocking else Finding("met")
    )
    # "ER", "HM" typed in capitals are initials (an ER visit, HM Passport Office).
    fillers = [m for m in t.find("filler") if not (m.evidence.isupper() and len(m.evidence) <= 3)]
    f["no_filler"] = Finding("missed", _evidence(fillers), True) if fillers else Finding("met")

    # --- apologise and reformulate: expected until done once -----------------------
    apologies = t.apologies()
    if apologies:
        f["apologize"] = Finding("met", _evidence(apologies), True)
    elif any(e.apologies() for e in earlier):
        f["apologize"] = Finding("na")
    else:
        f["apologize"] = Finding("missed")

    reformulations = t.find("reformulation")
    if reformulations:
        f["reformulate"] = Finding("met", _evidence(reformulations), True)
    elif any(e.find("reformulation") for e in earlier):
        f["reformulate"] = Finding("na")
    else:
        f["reformulate"] = Finding("missed")

    # --- "I" to "you", not a faceless "we" ----------------------------------------
    mine, company = t.find("first_person"), t.said("company_voice")
    if mine:
        f["personal_language"] = Finding("met", _evidence(mine[:1]), True)
    elif company:
        f["personal_language"] = Finding("missed", _evidence(company), True)
    else:
        f["personal_language"] = Finding("na")

    # --- the opening: only the first reply ------------------------------------------
    if earlier:
        f["positive_opening"] = Finding("na", authoritative=True)
    else:
        opening = t.in_opening(t.find("opening_thanks"))
        f["positive_opening"] = (
            Finding("met", _evidence(opening), True) if opening else Finding("missed")
        )

    # --- waiting, holding and narrating ---------------------------------------------
    narration = t.find("narration") or t.find("narration_now")
    # "I won't put you on hold", « sans vous faire patienter »: no hold, said as a promise.
    holds, refused = t.refused(t.said("hold"))
    # "Wait, so the parcel never arrived?" is surprise, not a hold.
    waits, refused_waits = t.refused([w for w in t.said("wait") if not t.surprise(w)])
    refused += refused_waits
    reasons = narration or t.find("hold_reason")
    # A hold is acceptable only with its reason and its length; a shorter wait
    # ("one moment", « laissez-moi deux minutes ») with what happens meanwhile.
    explained_hold = bool(holds and reasons and t.find("duration"))
    explained_wait = bool(waits and reasons)
    if narration:
        f["narrate_action"] = Finding("met", _evidence(narration), True)
    elif (holds and not explained_hold) or (waits and not explained_wait):
        f["narrate_action"] = Finding("missed", _evidence(waits + holds), True)
    else:
        f["narrate_action"] = Finding("na")

    if holds:
        f["no_hold"] = (
            Finding("met", _evidence(holds + t.find("duration")), True)
            if explained_hold
            else Finding("missed", _evidence(holds), True)
        )
    elif waits:
        f["no_hold"] = (
            Finding("met", _evidence(waits + reasons), True)
            if explained_wait
            else Finding("missed", _evidence(waits), True)
        )
    elif refused:
        f["no_hold"] = Finding("met", _evidence(refused), True)
    elif surprised := [w for w in t.said("wait") if t.surprise(w)]:
        # "Wait, so it never moved?": surprise, said while staying with the customer.
        f["no_hold"] = Finding("met", _evidence(surprised + narration), True)
    elif (mentions := t.find("wait_word")) and not t.find("wait_length"):
        # "the wait is nearly over", "thanks for holding off": waiting named,
        # nobody parked.
        f["no_hold"] = Finding("met", _evidence(mentions), True)
    elif live := _live_wait(t, narration):
        # No hold word: the trainee says how long the wait is and why.
        f["no_hold"] = Finding("met", _evidence(live), True)
    else:
        f["no_hold"] = Finding("na")

    # --- timelines -------------------------------------------------------------------
    # Dates inside a restatement are the customer's facts, not a commitment
    # ("so it has to be signed by Thursday noon, is that right?").
    concrete = [m for m in t.find("timeline") if not t.in_reformulation(m)]
    # A hedge in the same clause takes the commitment out (« normalement jeudi »).
    hedges = t.find("hedge")
    hedged = [m for m in concrete if any(t.same_clause(h, m) for h in hedges)]
    firm = [m for m in concrete if m not in hedged]
    vague = t.find("vague_time")
    if firm:
        f["concrete_timeline"] = Finding("met", _evidence(firm), True)
    elif hedged:
        hedging = [h for h in hedges if any(t.same_clause(h, m) for m in hedged)]
        f["concrete_timeline"] = Finding("missed", _evidence(hedging + hedged), True)
    elif vague:
        f["concrete_timeline"] = Finding("missed", _evidence(vague), True)
    else:
        f["concrete_timeline"] = Finding("na")

    # --- closing -----------------------------------------------------------------------
    other = t.find("other_concerns")
    if other:
        f["check_other_concerns"] = Finding("met", _evidence(other), True)
    elif report.closing:
        f["check_other_concerns"] = Finding("missed", _evidence(t.find("farewell")))
    else:
        f["check_other_concerns"] = Finding("na")

    # Asking whether anything else is needed is the start of a close: thanks
    # said then are closing thanks.
    thanks = t.find("thanks")
    if (report.closing or other) and thanks:
        f["thank_close"] = Finding("met", _evidence(thanks), True)
    elif report.closing or other:
        f["thank_close"] = Finding("missed", _evidence(t.find("farewell") or other))
    else:
        f["thank_close"] = Finding("na")

    _rubric_rules(t, report)
    _judgement_hints(t, report, history, triggers)
    return report


def _corporate(match: Match) -> bool:
    return bool(_CORPORATE.match(fold(match.evidence).text))


def said_persona_phrases(text: str, language: Language, lines: Sequence[str]) -> dict[str, str]:
    """Which of a persona's phrase lines (its goal evidence) ``text`` says,
    each with the words that show it, as typed."""
    return _Turn(load_lexicon(language), text).persona_phrases(lines)


def _live_wait(t: _Turn, narration: list[Match]) -> list[Match]:
    """A wait given with its length and what happens meanwhile, without a hold
    ("I'm opening the calendar, it takes about ten seconds"; « le temps de
    vérifier, ça prend deux minutes »): the customer is kept informed."""
    if not (length := t.find("wait_length")):
        return []
    reasons = narration or t.find("hold_reason")
    return reasons + length if reasons else []


#: The phrase lists whose words earn credit: what keyword stuffing piles up.
_CREDIT_LISTS = (
    "apology",
    "emotion",
    "reformulation",
    "own",
    "timeline",
    "other_concerns",
    "thanks",
    "opening_thanks",
    "narration",
    "solution",
)
#: So many different credited phrases in one sentence is a list for a grader,
#: not something said to a customer.
_STUFFING_LISTS = 5


def _keyword_stuffing(t: _Turn) -> tuple[int, int] | None:
    """The sentence that piles up the rubric's phrases, if there is one."""
    by_sentence: dict[tuple[int, int], set[str]] = {}
    for name in _CREDIT_LISTS:
        for m in t.find(name):
            by_sentence.setdefault(t.folded.sentence_bounds(m.start), set()).add(name)
    for bounds, names in by_sentence.items():
        if len(names) >= _STUFFING_LISTS:
            return bounds
    return None


def _attack_span(folded: Folded, position: int) -> tuple[int, int]:
    """The sentence around an attack; "SYSTEM:" lines and JSON run to their line's end."""
    text = folded.text
    start, end = folded.sentence_bounds(position)
    line_start = text.rfind("\n", 0, position) + 1
    if not text[line_start:position].strip() or text[position] in "{[<":
        line_end = text.find("\n", position)
        end = max(end, line_end if line_end != -1 else len(text))
    while end < len(text) and text[end] in ".!?;\n ":
        end += 1
    return start, end


def attack_spans(text: str, language: Language) -> list[tuple[int, int]]:
    """Spans of ``text`` that try to instruct the grader (for earlier turns of a
    conversation, which the grader also reads)."""
    folded = fold(text)
    found = load_lexicon(language).find("injection", folded, include_quoted=True)
    spans = [_attack_span(folded, m.start) for m in found]
    return [(folded.index[a], folded.index[b - 1] + 1) for a, b in spans if b > a]


def _rubric_rules(t: _Turn, report: CheckReport) -> None:
    """Criteria whose check is a phrase list named in the rubric data."""
    for criterion in CRITERIA:
        rule = criterion.check
        if rule is None or criterion.id in CODED_CRITERIA:
            continue
        if rule.missed_when:
            found = t.said(rule.missed_when)
            report.findings[criterion.id] = (
                Finding("missed", _evidence(found), True) if found else Finding("met")
            )
        else:
            found = t.find(rule.list_name)
            report.findings[criterion.id] = (
                Finding("met", _evidence(found), True) if found else Finding("na")
            )


def _judgement_hints(
    t: _Turn, report: CheckReport, history: list[Message], triggers: Sequence[str]
) -> None:
    h = report.hints
    if emotion := t.find("emotion"):
        h["acknowledge_emotion"] = Finding("met", _evidence(emotion))
    # Contempt, minimising the customer's loss and insults are harms the words
    # prove: final, like a blocking phrase. Blame words are a hint for the LLM.
    harms = t.said("contempt", loose=True) + t.said("insult", loose=True) + t.phrases(triggers)
    if harms:
        h["no_blame"] = Finding("missed", _evidence(harms), True)
        # Belittling the customer is no respectful register either.
        h["plain_register"] = Finding("missed", _evidence(harms), True)
    elif blame := t.said("blame"):
        h["no_blame"] = Finding("missed", _evidence(blame))
    if questions := t.find("open_question"):
        h["explore"] = Finding("met", _evidence(questions))
    own, passed = t.find("own"), t.find("pass_ball")
    if own:
        # Staying the customer's contact is ownership even when someone else must act.
        h["ownership"] = Finding("met", _evidence(own))
    elif passed:
        h["ownership"] = Finding("missed", _evidence(passed))
    if solution := t.find("solution"):
        h["propose_solution"] = Finding("met", _evidence(solution))
    if steps := t.find("steps"):
        h["simplify"] = Finding("met", _evidence(steps))

    customer = _Turn(t.lexicon, last_customer_message(history)) if history else None
    report.abusive_customer = bool(customer and customer.find("insult"))
    insults = t.said("insult", loose=True)
    if insults:
        # Answering abuse in kind is a violation, whoever started it.
        h["set_boundaries"] = Finding("missed", _evidence(insults), True)
        h["plain_register"] = Finding("missed", _evidence(insults), True)
    elif report.abusive_customer:
        boundary = t.find("boundary")
        h["set_boundaries"] = Finding("met", _evidence(boundary)) if boundary else Finding("missed")

    # Attacks count inside quotation marks too: quoting is no shelter here.
    attacks = t.lexicon.find("injection", t.folded, include_quoted=True)
    report.injection = [m.evidence for m in attacks]
    spans = [_attack_span(t.folded, m.start) for m in attacks]
    if stuffed := _keyword_stuffing(t):
        start, end = stuffed
        report.injection.append(f"keyword stuffing: {t.folded.source(start, end)[:120]}")
        spans.append((start, end))
    report.attack_spans = [
        (t.folded.index[a], t.folded.index[b - 1] + 1) for a, b in spans if b > a
    ]
    if report.injection and "plain_register" not in h:
        h["plain_register"] = Finding("missed", "; ".join(report.injection), True)
