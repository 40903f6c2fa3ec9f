"""Per-code answers asked ahead, in a second thread, while the kernel's columnar steps run.

The kernel's hooks (``run.general_hooks``, ``parts_hook``, ``deemed_hook``, ``note_needs_hook``, ``part6_hook``)
are Python: asked once per distinct code, some fifteen thousand codes each, they hold one core for about half a
second in all while the other waits. Polars releases the interpreter while it works, so the same calls made in
a second thread, as soon as the codes are known, run beside the bill's joins and group-bys. The kernel then
takes each answer from here; a code not asked ahead (or whose call raised: asked again, so the error surfaces
where it did before) is asked there and then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

YIELD_EVERY = 8  # calls between hand-overs of the interpreter (each call some 5-20 microseconds)
_FAILED = object()  # (a call that raised ahead: asked again in the caller's thread)


class Ahead:
    """Answers of named hooks over keys, computed in one background thread in the order submitted."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._jobs: dict[str, tuple[Callable[..., Any], Future[dict[Hashable, Any]]]] = {}
        self._side: ThreadPoolExecutor | None = None

    def ask(
        self,
        name: str,
        hook: Callable[..., Any] | None,
        keys: Callable[[], Iterable[Hashable]],
        spread: bool = False,
    ) -> None:
        """Start asking ``hook(key)`` (``hook(*key)`` when ``spread``) for each of ``keys()`` (computed in the
        thread too); ``hook`` None: nothing to ask."""
        if hook is None:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="usmca-ahead")

        def run() -> dict[Hashable, Any]:
            got: dict[Hashable, Any] = {}
            for i, k in enumerate(dict.fromkeys(keys())):
                if i % YIELD_EVERY == 0:
                    # The kernel's thread takes the interpreter back after each columnar step; a thread running
                    # Python holds it until asked, up to the switch interval (5 ms) each time: handing it over
                    # every few calls keeps those waits short.
                    time.sleep(0)
                try:
                    got[k] = hook(*k) if spread else hook(k)  # type: ignore[misc]
                except Exception:  # asked again by the caller, where it raises as before
                    got[k] = _FAILED
            return got

        self._jobs[name] = (hook, self._pool.submit(run))

    def answers(self, name: str, hook: Callable[..., Any], keys: Iterable[Hashable], spread: bool = False) -> list[Any]:
        """``hook`` over ``keys``, in order: from the answers asked ahead where there are any."""
        job = self._jobs.get(name)
        got: dict[Hashable, Any] = {}
        if job is not None and job[0] is hook:
            try:
                got = job[1].result()
            except Exception:  # the keys could not be listed ahead: every one is asked here
                got = {}
        out = []
        for k in keys:
            v = got.get(k, _FAILED)
            if v is _FAILED:
                v = hook(*k) if spread else hook(k)  # type: ignore[misc]
            out.append(v)
        return out

    def start(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """``fn(*args)`` in a third thread: a columnar step whose inputs are final, run beside the steps that do
        not need it (those that use one core leave the other free)."""
        if self._side is None:
            self._side = ThreadPoolExecutor(1, thread_name_prefix="usmca-side")
        return self._side.submit(fn, *args)

    def close(self) -> None:
        """Wait for the threads and let them go (answers not taken are dropped)."""
        for pool in (self._pool, self._side):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._side = None
