"""Per-code answers asked ahead in a second thread (``portfolio.ahead``): the same answers as asking in place,
errors where they were, nothing lost."""

from __future__ import annotations

import threading

import pytest

from usmca.portfolio.ahead import Ahead


def test_answers_come_from_the_second_thread_in_the_callers_order() -> None:
    threads: dict[str, str] = {}

    def hook(code: str) -> str:
        threads[code] = threading.current_thread().name
        return code[::-1]

    ahead = Ahead()
    try:
        ahead.ask("rev", hook, lambda: ["123", "456", "123"])
        got = ahead.answers("rev", hook, ["456", "123", "789"])
    finally:
        ahead.close()
    assert got == ["654", "321", "987"]
    # asked ahead once each; a code not listed ahead is asked by the caller
    assert threads["123"].startswith("usmca-ahead") and threads["456"].startswith("usmca-ahead")
    assert threads["789"] == threading.current_thread().name


def test_keys_spread_over_the_hooks_arguments() -> None:
    def hook(a: str, b: int | None) -> str:
        return f"{a}-{b}"

    ahead = Ahead()
    try:
        ahead.ask("pair", hook, lambda: [("x", 1), ("y", None)], spread=True)
        assert ahead.answers("pair", hook, [("y", None), ("x", 1)], spread=True) == ["y-None", "x-1"]
        # another hook under the name is asked itself, not answered with the first one's answers
        assert ahead.answers("pair", lambda a, b: "other", [("x", 1)], spread=True) == ["other"]
    finally:
        ahead.close()


def test_an_error_ahead_is_raised_where_the_answer_is_taken() -> None:
    calls: list[str] = []

    def hook(code: str) -> int:
        calls.append(code)
        if code == "bad":
            raise ValueError(f"no answer for {code}")
        return len(code)

    ahead = Ahead()
    try:
        ahead.ask("len", hook, lambda: ["ok", "bad"])
        assert ahead.answers("len", hook, ["ok"]) == [2]  # (the failed key is not needed: no error)
        with pytest.raises(ValueError, match="no answer for bad"):
            ahead.answers("len", hook, ["bad"])
    finally:
        ahead.close()
    assert calls.count("bad") == 2  # ahead, and again in the caller's thread


def test_keys_that_cannot_be_listed_ahead_are_asked_in_place() -> None:
    def keys() -> list[str]:
        raise RuntimeError("listing failed")

    ahead = Ahead()
    try:
        ahead.ask("upper", str.upper, keys)
        assert ahead.answers("upper", str.upper, ["a", "b"]) == ["A", "B"]
    finally:
        ahead.close()


def test_a_step_started_beside_returns_its_result() -> None:
    ahead = Ahead()
    try:
        later = ahead.start(lambda a, b: a + b, 2, 3)
        assert later.result() == 5
    finally:
        ahead.close()
