"""Dict round trip of every rule and note; export document."""

from __future__ import annotations

import json

from usmca.rules.corpus import export, load_corpus, note_from, note_to
from usmca.rules.serialize import rule_from, rule_to


def test_every_rule_round_trips(conn) -> None:  # type: ignore[no-untyped-def]
    corpus = load_corpus(conn)
    for r in corpus.rules:
        assert rule_from(json.loads(json.dumps(rule_to(r)))) == r
    for n in corpus.notes:
        assert note_from(json.loads(json.dumps(note_to(n)))) == n


def test_export_is_versioned(conn) -> None:  # type: ignore[no-untyped-def]
    corpus = load_corpus(conn)
    doc = export(corpus)
    assert doc["format"] == "usmca-rule-corpus" and doc["version"] == corpus.version
    assert len(doc["rules"]) == len(corpus.rules) and doc["chapters_missing"] == ["64", "65", "66", "67"]
