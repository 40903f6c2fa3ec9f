"""One atheris (libFuzzer) process for one target: ``python fuzz/harness.py TARGET -runs=N [libFuzzer flags]``.

Expected outcomes (a result or the target's clear error) pass; any other exception is recorded in
``$USMCA_FUZZ_OUT/<target>.failures.jsonl`` (type, message, location, input) and fuzzing goes on, so one run
counts every distinct failure instead of stopping at the first. A hang is caught by libFuzzer's -timeout.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports(include=["usmca"]):
    from fuzz import targets as T

NAME = sys.argv[1]
TARGET = T.TARGETS[NAME]
OUT = Path(os.environ.get("USMCA_FUZZ_OUT", "fuzz/out"))
OUT.mkdir(parents=True, exist_ok=True)
FAILS = OUT / f"{NAME}.failures.jsonl"
_seen: set[str] = set()


def one(data: bytes) -> None:
    try:
        TARGET(data)
    except Exception as exc:  # everything not expected by the target is a failure
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        sig = f"{type(exc).__module__}.{type(exc).__name__} at {Path(tb.filename).name}:{tb.lineno}"
        with FAILS.open("a") as f:
            f.write(
                json.dumps(
                    {"signature": sig, "message": str(exc)[:300], "input": data[:400].hex(), "new": sig not in _seen}
                )
                + "\n"
            )
        _seen.add(sig)


def main() -> None:
    corpus = OUT / f"{NAME}.corpus"
    corpus.mkdir(exist_ok=True)
    for i, s in enumerate(T.seeds(NAME)):
        (corpus / f"seed-{i}").write_bytes(s)
    atheris.Setup([sys.argv[0], *sys.argv[2:], str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
