"""The duty quote's fast paths give the same answers as the general ones: short entries are quoted on the
event loop, longer ones on the engine thread; the store connection is reused, and taken again after a reset."""

from __future__ import annotations

import json
from typing import Any

LINE = {
    "hts": "9401.61.4011",
    "country_of_origin": "CA",
    "entered_value": 10000,
    "usmca_claim": False,
    "transport": "ocean",
}


def test_short_and_long_entries_quote_alike(client: Any) -> None:
    from usmca.app.api import INLINE_LINES

    short = {"entry_date": "2025-08-15", "lines": [{**LINE, "id": "L0"}]}
    long = {
        "entry_date": "2025-08-15",
        "lines": [{**LINE, "id": f"L{i}"} for i in range(INLINE_LINES + 2)],
    }
    a = client.post("/api/v1/duty", json=short)
    b = client.post("/api/v1/duty", json=long)
    assert a.status_code == 200 and b.status_code == 200
    assert a.headers["content-type"] == "application/json"
    one, many = a.json()["lines"], b.json()["lines"]
    assert len(one) == 1 and len(many) == INLINE_LINES + 2
    assert one[0]["status"] == "complete" and one[0]["total_duty"] is not None
    # Same line, same answer, whichever path quoted it.
    assert all({**m, "id": "L0"} == one[0] for m in many)


def test_bad_input_is_refused_on_both_paths(client: Any) -> None:
    from usmca.app.api import INLINE_LINES

    for n in (1, INLINE_LINES + 1):
        lines: list[dict[str, Any]] = [{**LINE, "id": f"L{i}"} for i in range(n)]
        lines[-1]["entered_value"] = -5
        bad = {"entry_date": "2025-08-15", "lines": lines}
        r = client.post("/api/v1/duty", json=bad)
        assert r.status_code == 422, r.text
        assert "entered_value" in r.json()["error"]["message"]


def test_json_bytes_match_the_standard_encoder() -> None:
    from usmca.app.api import _dumps

    doc = {"a": 1.5, "b": [None, True, "é"], "c": {"d": 0}}
    assert json.loads(_dumps(doc)) == doc
    assert json.loads(_dumps({1: "non-str key"})) == {"1": "non-str key"}  # orjson refuses; json answers


def test_store_connection_is_reused_and_retaken_after_reset() -> None:
    from usmca import store as store_mod
    from usmca.app.api import _conn

    c1 = _conn()
    assert _conn() is c1
    store_mod.reset()
    c2 = _conn()
    assert c2 is not c1 and _conn() is c2
    assert c2.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
