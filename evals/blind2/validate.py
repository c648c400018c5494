#!/usr/bin/env python3
"""Format checks for the blind2 eval set (blind2_fr.jsonl, blind2_en.jsonl).

Checks: one JSON object per line; unique ids with the b2fr-/b2en- prefix;
required keys (and only the known ones); criterion ids taken from
/work/shared/RUBRIC.md; verdicts in met/missed/na; 2 to 6 labels; persona ids
exist in /work/main/personas/*.yaml and share the case's language; history
starts with a customer message, alternates and ends with a customer message;
positive_opening only on first replies; closing criteria on first replies are
"na"; tags is a one-element list of a known class; twins point to an existing
non-attack case of the same file; class counts match the brief.
Exit code 0 when everything passes, 1 otherwise.
"""
import glob
import json
import os
import re
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
RUBRIC = "/work/shared/RUBRIC.md"
PERSONA_DIR = "/work/main/personas"
FILES = {"fr": os.path.join(HERE, "blind2_fr.jsonl"), "en": os.path.join(HERE, "blind2_en.jsonl")}
REQUIRED = {"id", "language", "persona", "history", "turn", "expect", "tags"}
OPTIONAL = {"twin"}
VERDICTS = {"met", "missed", "na"}
CLOSING = {"check_other_concerns", "thank_close"}
EXPECTED_COUNTS = {
    "hold": 20, "timeline_variant": 18, "personal_voice": 16, "reformulation_variant": 14,
    "closing_variant": 16, "contempt": 18, "apology_variant": 12, "blocking_variant": 12,
    "opening": 10, "boundary": 8, "false_alarm": 8, "good_reply": 4, "bad_reply": 4,
}


def rubric_ids():
    ids = []
    for line in open(RUBRIC, encoding="utf-8"):
        m = re.match(r"^\|\s*`([a-z_]+)`\s*\|", line)
        if m:
            ids.append(m.group(1))
    if len(ids) != len(set(ids)) or not ids:
        sys.exit(f"could not parse a clean list of criterion ids from {RUBRIC}: {ids}")
    return set(ids)


def personas():
    out = {}
    for path in glob.glob(os.path.join(PERSONA_DIR, "*.yaml")):
        pid = lang = None
        for line in open(path, encoding="utf-8"):
            m = re.match(r"^id:\s*(\S+)\s*$", line)
            if m:
                pid = m.group(1).strip("'\"")
            m = re.match(r"^language:\s*(\S+)\s*$", line)
            if m:
                lang = m.group(1).strip("'\"")
        if pid:
            out[pid] = lang
    return out


def main():
    crit = rubric_ids()
    pers = personas()
    errors = []
    all_ids = set()
    summary = {}

    def err(where, msg):
        errors.append(f"{where}: {msg}")

    for lang, path in FILES.items():
        if not os.path.exists(path):
            err(path, "missing file")
            continue
        cases = []
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            where = f"{os.path.basename(path)}:{n}"
            if not line.strip():
                err(where, "empty line")
                continue
            try:
                o = json.loads(line)
            except json.JSONDecodeError as e:
                err(where, f"not JSON ({e})")
                continue
            if not isinstance(o, dict):
                err(where, "not a JSON object")
                continue
            cases.append((where, o))
        ids_here = {}
        for where, o in cases:
            keys = set(o)
            if REQUIRED - keys:
                err(where, f"missing keys {sorted(REQUIRED - keys)}")
                continue
            if keys - REQUIRED - OPTIONAL:
                err(where, f"unknown keys {sorted(keys - REQUIRED - OPTIONAL)}")
            cid = o["id"]
            where = f"{where} ({cid})"
            if not isinstance(cid, str) or not re.fullmatch(rf"b2{lang}-\d{{3}}", cid):
                err(where, f"id must look like b2{lang}-001")
            if cid in all_ids:
                err(where, "duplicate id")
            all_ids.add(cid)
            ids_here[cid] = o
            if o["language"] != lang:
                err(where, f"language {o['language']!r} in the {lang} file")
            p = o["persona"]
            if p not in pers:
                err(where, f"unknown persona {p!r}")
            elif pers[p] != lang:
                err(where, f"persona {p} is {pers[p]}, case is {lang}")
            if not isinstance(o["turn"], str) or not o["turn"].strip():
                err(where, "turn must be a non-empty string")
            h = o["history"]
            if not isinstance(h, list) or not h:
                err(where, "history must be a non-empty list")
                h = []
            for i, m in enumerate(h):
                if not isinstance(m, dict) or set(m) != {"role", "content"}:
                    err(where, f"history[{i}] must have exactly role and content")
                    continue
                want = "customer" if i % 2 == 0 else "trainee"
                if m["role"] != want:
                    err(where, f"history[{i}] role {m['role']!r}, expected {want!r} (alternation)")
                if not isinstance(m["content"], str) or not m["content"].strip():
                    err(where, f"history[{i}] empty content")
            if h and len(h) % 2 == 0:
                err(where, "history must end with a customer message")
            first_reply = len(h) == 1
            e = o["expect"]
            if not isinstance(e, dict):
                err(where, "expect must be an object")
                e = {}
            if not 2 <= len(e) <= 6:
                err(where, f"expect has {len(e)} labels, needs 2 to 6")
            for k, v in e.items():
                if k not in crit:
                    err(where, f"unknown criterion {k!r}")
                if v not in VERDICTS:
                    err(where, f"verdict {v!r} for {k} not in met/missed/na")
            if "positive_opening" in e and not first_reply:
                err(where, "positive_opening labelled on a reply that is not the first")
            if first_reply:
                for k in CLOSING & set(e):
                    if e[k] != "na":
                        err(where, f"{k} must be na on a first reply")
            t = o["tags"]
            if not (isinstance(t, list) and len(t) == 1 and t[0] in EXPECTED_COUNTS):
                err(where, f"tags must be a one-element list of a known class, got {t!r}")
        # twins
        for cid, o in ids_here.items():
            if "twin" in o:
                tw = o["twin"]
                if tw not in ids_here:
                    err(cid, f"twin {tw!r} not in the same file")
                elif tw == cid:
                    err(cid, "twin points to itself")
                elif "twin" in ids_here[tw]:
                    err(cid, f"twin {tw} is itself an attack")
                elif ids_here[tw]["turn"] == o["turn"]:
                    err(cid, "attack has the same turn text as its twin")
        # duplicates
        seen = Counter((json.dumps(o["history"], ensure_ascii=False), o["turn"]) for o in ids_here.values())
        for k, n in seen.items():
            if n > 1:
                err(path, f"duplicate case (same history and turn) x{n}: {k[1][:60]!r}")
        counts = Counter(o["tags"][0] for o in ids_here.values() if isinstance(o.get("tags"), list) and o["tags"])
        summary[lang] = counts
        for cls, n in EXPECTED_COUNTS.items():
            if counts.get(cls, 0) != n:
                err(path, f"class {cls}: {counts.get(cls, 0)} cases, expected {n}")
        if len(ids_here) != 160:
            err(path, f"{len(ids_here)} cases, expected 160")

    for lang, c in summary.items():
        print(lang, sum(c.values()), dict(sorted(c.items())))
    if errors:
        print(f"{len(errors)} problem(s):")
        for e in errors:
            print("  " + e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
