"""The single-good fallback gives the same answers in worker processes as in this process."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from usmca.portfolio import run as run_mod
from usmca.portfolio.read import check_portfolio
from usmca.portfolio.synth import SynthSpec, codes_from_store, good_codes_with_rules, synth_portfolio

ON = dt.date(2026, 3, 1)


def _runner(
    conn: Any, monkeypatch: pytest.MonkeyPatch, skus: int, lines: int, seed: int, undervalued: int = 0
) -> Callable[[str], run_mod.RunResult]:
    """A synthetic portfolio with many multi-level bills (the engine's), and its run with at most ``workers``
    fallback processes (``USMCA_WORKERS``); the fallback goes to processes from 10 cases. ``undervalued``: that
    many sub-assembly lines entered at a cent, below their own non-originating materials: an input error only
    the engine finds (it reads the sub-bills), so it rejects those cases."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the fallback runs in this process")
    from usmca.rules.corpus import load_corpus

    corpus = load_corpus(conn)
    tables = run_mod.RuleTables.from_rules(corpus.rules)
    codes = codes_from_store(conn, ON)
    spec = SynthSpec(skus=skus, lines=lines, seed=seed, multi_level=0.5, date=ON)
    products, bom, _decl = synth_portfolio(spec, good_codes_with_rules(codes, tables), codes)
    sub = bom["component_id"].is_in(products["sku"].implode())
    cheap = sub & (sub.cum_sum() <= undervalued)
    bom = bom.with_columns(pl.when(cheap).then(pl.lit("0.01")).otherwise(pl.col("value")).alias("value"))
    monkeypatch.setattr(run_mod, "PARALLEL_FROM", 10)
    monkeypatch.setitem(run_mod._WORKER_CAP, "cap", None)  # (the web app's tests cap it at 1)

    def run(workers: str) -> run_mod.RunResult:
        monkeypatch.setenv("USMCA_WORKERS", workers)
        p = products.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
        b = bom.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
        pf = check_portfolio(p, b, None, on=ON)
        return run_mod.run_portfolio(pf, on=ON, conn=conn, corpus=corpus, tables=tables, exposure=False)

    return run


@pytest.mark.slow
def test_fallback_in_processes_equals_in_process(conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    run = _runner(conn, monkeypatch, skus=160, lines=5, seed=21, undervalued=3)
    calls: list[int] = []
    real = run_mod._decide_in_processes

    def counted(todo: Any, *args: Any) -> Any:
        calls.append(len(todo))
        return real(todo, *args)

    monkeypatch.setattr(run_mod, "_decide_in_processes", counted)
    one = run("1")
    assert not calls
    many = run("2")
    assert calls and calls[0] >= 40, (calls, one.engine_counts)
    assert one.results.equals(many.results)
    assert one.skipped == many.skipped
    # cases the engine rejects (values above the adjusted transaction value) are rejected in a worker too
    assert any("single-good engine rejected" in r for r in many.skipped.values()), many.skipped


def test_the_web_app_decides_the_fallback_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's cores serve requests while a portfolio job runs, and a threaded server is not forked."""
    from usmca.app.api import create_app

    monkeypatch.setitem(run_mod._WORKER_CAP, "cap", None)
    monkeypatch.delenv("USMCA_WORKERS", raising=False)
    monkeypatch.setattr(run_mod.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert run_mod.fallback_workers(10_000) == 2
    create_app(db_url="sqlite://")
    assert run_mod.fallback_workers(10_000) == 1


@pytest.mark.slow
def test_a_worker_that_dies_loses_no_case(conn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process killed mid-run (the pool breaks): the cases not answered are decided in this process,
    and the answers equal those of a run without workers."""
    run = _runner(conn, monkeypatch, skus=120, lines=4, seed=22)
    one = run("1")
    _PARENT["pid"] = os.getpid()
    monkeypatch.setattr(run_mod, "_worker_chunk", _dies_in_a_worker)
    many = run("2")
    assert one.engine_counts.get("single_good", 0) >= 20, one.engine_counts
    assert one.results.equals(many.results)
    assert one.skipped == many.skipped


_PARENT: dict[str, int] = {}
_REAL_CHUNK = run_mod._worker_chunk


def _dies_in_a_worker(items: Any) -> Any:
    # (module level: the pool sends the function by name)
    if os.getpid() != _PARENT.get("pid"):
        os._exit(9)  # as if killed
    return _REAL_CHUNK(items)
