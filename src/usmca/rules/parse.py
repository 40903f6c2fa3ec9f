"""Parser of the GN 11(o) rule text into the grammar of ``usmca.rules.grammar``.

The parser works on one paragraph at a time (a numbered rule, or a NOTE paragraph holding a time-based or
trade-direction rule) and returns the codes *as written*; nomenclature mapping happens in ``corpus``.
It never guesses: a clause it cannot read is kept with ``unparsed_reason`` on the alternative (or the rule).

Encodings beyond the literal grammar (documented in docs/adr/0003-rule-grammar.md):

* ``use=("*other*",)`` is "For any other good of ...": every end use not named by a sibling rule of the same
  scope. ``good`` (a rule-level ``Condition`` of kind ``good_type``) carries "For a body stamping of ...";
  ``values=("*other*",)`` is the complement of the sibling rules' named goods.
* An alternative's ``target`` (when not empty) is the narrower set of codes the branch changes *to*
  ("A change to tariff items 8708.99.03, ..."); its ``good_qualifier`` is "A change to radiators of ...".
* Provisos other than regional value content become ``Condition`` s (named facts), e.g. a volume share.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from usmca.nomenclature.codes import LEVEL_DIGITS, CodeRange, CodeSet, Level
from usmca.rules.grammar import Alternative, Condition, RegionalValueContent, TariffShift

OTHER = "*other*"  # the complement marker for "any other good" / "any other use" / "all other trade"

USE_WORDS: tuple[tuple[str, str], ...] = (
    ("passenger vehicle", "passenger_vehicle"),
    ("light truck", "light_truck"),
    ("heavy truck", "heavy_truck"),
)

_LEVEL_WORD = r"(?:chapters?|headings?|subheadings?|tariff items?)"
_CODE = r"\d{1,2}(?:\.?\d{2})?(?:\.\d{2}){0,2}"
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_DATE = (
    r"(January|February|March|April|May|June|July|August|September|October|November|December)"
    r" (\d{1,2}), (\d{4})"
)


def _level_of_word(word: str) -> Level:
    w = word.lower().rstrip("s")
    if w.startswith("chapter"):
        return "chapter"
    if w.startswith("heading"):
        return "heading"
    if w.startswith("subheading"):
        return "subheading"
    return "tariff_item"


def _digits(code: str, level: str | None) -> str:
    d = code.replace(".", "")
    if len(d) in (1, 3):  # "chapter 4": chapters print without a leading zero
        d = "0" + d
    return d


@dataclass(frozen=True, slots=True)
class CodeList:
    codes: CodeSet
    words: tuple[str, ...]  # descriptive words met inside the list (e.g. "yarn of") — empty when clean
    end: int  # index in the text where the list stopped


_TOKEN = re.compile(
    rf"\s*(?:(?P<level>{_LEVEL_WORD})\b|(?P<code>{_CODE})(?!\d)(?! "
    r"percent)|(?P<conn>,|\bor\b|\band\b|\bthrough\b)"
    r"|(?P<enum>\(\d+\)|\([a-z]\)))",
    re.I,
)


_LEVEL_LENGTHS: dict[str, tuple[int, ...]] = {
    "chapter": (2,),
    "heading": (4,),
    "subheading": (6, 8),  # "subheading 9017.90.01" (a tariff item called subheading) is printed
    "tariff_item": (8, 10),
}
_STOP_WORDS = ("except", "provided", "whether", "when")


def parse_code_list(
    text: str, start: int = 0, allow_words: bool = False, stop_words: tuple[str, ...] = _STOP_WORDS
) -> CodeList:
    """Read a list such as "headings 5106 through 5113, 5204 through 5212, chapter 54 or subheading 5509.31".

    A code is taken only after a level word and only when its length fits that level (so "15 cm" in a
    description is not chapter 15). Stops at the first token that is not a level word, a code or a connector;
    with ``allow_words`` descriptive words (and parenthesised asides) are skipped and returned.
    """
    pos = start
    level: str | None = None
    ranges: list[CodeRange] = []
    words: list[str] = []
    pending_through = False
    last_end = start
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is not None and m.group("code"):
            d = _digits(m.group("code"), level)
            if level is None or len(d) not in _LEVEL_LENGTHS[level]:
                m = None  # a number that is not a code of the current level
        if m is None:
            if not allow_words:
                break
            w = re.match(r'\s*(\([^()]*\)|"[^"]*"|[^\s,;()]+)', text[pos:])
            if w is None:
                break
            tok = w.group(1)
            if tok.lower() in stop_words:
                break
            words.append(tok)
            pos += w.end()
            level = None if not re.match(_LEVEL_WORD, tok, re.I) else level
            continue
        if m.group("level"):
            level = _level_of_word(m.group("level"))
        elif m.group("code"):
            d = _digits(m.group("code"), level)
            if pending_through and ranges and len(ranges[-1].start) == len(d) and ranges[-1].start <= d:
                prev = ranges.pop()
                ranges.append(CodeRange(prev.start, d))
            else:
                ranges.append(CodeRange.single(d))
            pending_through = False
        elif m.group("conn") and m.group("conn").lower() == "through":
            pending_through = True
        pos = m.end()
        if m.group("code"):
            last_end = pos
    return CodeList(CodeSet(tuple(ranges)), tuple(words), last_end if ranges else start)


def codes_in(text: str) -> CodeSet:
    """Every code named after a level word in ``text`` (used for scopes of lead-ins)."""
    ranges: list[CodeRange] = []
    for m in re.finditer(rf"\b{_LEVEL_WORD}\s+(?={_CODE})", text, re.I):
        ranges.extend(parse_code_list(text, m.start()).codes.ranges)
    return CodeSet(tuple(ranges))


def parse_date(text: str) -> dt.date:
    m = re.fullmatch(_DATE, text.strip())
    if not m:
        raise ValueError(text)
    return dt.date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))


# ---------------------------------------------------------------- regional value content and provisos

_RVC_START = re.compile(
    r",?\s*provided (?:that )?(?:there is (?:also )?(?:a )?|the )regional value content", re.I
)
_TV = re.compile(
    r"(\d+(?:\.\d+)?) percent (?:where|under) the transaction value(?: method)?(?: is used)?", re.I
)
_NC = re.compile(r"(\d+(?:\.\d+)?) percent (?:where|under) the net cost(?: method)?(?: is used)?", re.I)


def parse_rvc(text: str) -> tuple[RegionalValueContent | None, str | None]:
    """Parse "provided there is a regional value content of not less than ..." -> thresholds (or a reason)."""
    tv = _TV.findall(text)
    nc = _NC.findall(text)
    if len(tv) > 1 or len(nc) > 1:
        return None, "more than one threshold per method in one branch"
    if not tv and not nc:
        return None, "regional value content without a method named"
    clean = text.strip().rstrip(".;, ").removeprefix(",").strip()
    return RegionalValueContent(
        transaction_value=float(tv[0]) if tv else None,
        net_cost=float(nc[0]) if nc else None,
        text=clean,
    ), None


_SHARE = re.compile(
    r"(?P<what>(?:the )?(?:nonoriginating|non-originating)? ?[a-z \-]*?) (?:of "
    r"(?:subheadings?|headings?|chapters?) [\d. ]+"
    r"(?:through [\d.]+ )?)?constitutes? no more than (?P<pct>\d+(?:\.\d+)?) percent by "
    r"(?P<basis>volume|weight)",
    re.I,
)


def _slug(text: str, n: int = 6) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "_".join(words[:n]) or "proviso"


def parse_proviso(text: str) -> tuple[list[Condition], str | None]:
    """Non-RVC provisos ("provided that ...") as named facts."""
    t = text.strip().rstrip(".;, ")
    t = re.sub(r"^,?\s*provided(?: that)?\s*:?\s*", "", t, flags=re.I)
    if not t:
        return [], None
    conds: list[Condition] = []
    parts = re.split(r",? (?:and )?\(\d\) ", " " + t) if re.search(r"\(\d\) ", t) else [t]
    for part in parts:
        # "the nonoriginating sugar ... and the nonoriginating cocoa powder ...": two shares, two facts
        for sub in re.split(r" and (?=the nonoriginating |no component )", part):
            sub = sub.strip().rstrip(",;. ")
            if sub:
                conds.append(_condition_for(sub))
    return conds, None


_SHARE_ANY = re.compile(
    r"(?P<cmp>not less than|no less than|at least|no more than|not more than|not exceed(?:ing)?) "
    r"(?P<pct>\d+(?:\.\d+)?) percent by (?P<basis>weight|volume)",
    re.I,
)


_MATERIAL_SHARE = re.compile(
    r"at least (?P<pct>\d+) percent by weight of the materials of (?P<codes>.*?) (?:is|are) originating", re.I
)


def _condition_for(part: str) -> Condition:
    low = part.lower()
    ms = _MATERIAL_SHARE.search(part)
    if ms:
        # the steel rules: a share of the named materials (by weight) must be originating (from the bill)
        return Condition(
            "share",
            "originating_weight_share_of_materials",
            part,
            (f"min_percent={ms.group('pct')}",),
            (parse_code_list(ms.group("codes")).codes,),
        )
    m2 = _SHARE_ANY.search(part)
    if m2 and not _SHARE.search(part):
        bound = "max" if re.match(r"no more|not more|not exceed", m2.group("cmp"), re.I) else "min"
        subject = re.sub(
            r"\b(?:the|is|of|that|constitutes?|headings?|subheadings?|[\d.]+|through)\b",
            " ",
            part[: m2.start()] + " " + part[m2.end() :],
        )
        return Condition(
            "share",
            _slug(subject, 5) + f"_{m2.group('basis').lower()}_share",
            part,
            (f"{bound}_percent={m2.group('pct')}",),
        )
    m = _SHARE.search(part)
    if m:
        what = _slug(m.group("what").replace("nonoriginating", "nonoriginating"), 4)
        return Condition(
            "share", f"{what}_{m.group('basis').lower()}_share", part, (f"max_percent={m.group('pct')}",)
        )
    if "chemical reaction" in low:
        return Condition("process", "product_of_chemical_reaction", part, ("true",))
    if "classified in chapter" in low or "classified under heading" in low or "is classified" in low:
        return Condition("other", "material_" + _slug(part, 8), part)
    if re.search(r"\b(cut|sewn|assembled|formed|finished|spun|dyed|printed|woven|knit)\b", low):
        return Condition("process", _slug(part, 8), part)
    return Condition("other", _slug(part, 8), part)


# ---------------------------------------------------------------- one branch (alternative)

_CHANGE = re.compile(r"^(?:A )?change (?:to|of) (?P<rest>.*)$", re.I | re.S)
_CHANGE_NO_TARGET = re.compile(r"^(?:A )?change (?P<rest>from .*)$", re.I | re.S)
_NOCHANGE = re.compile(
    r"^(?:No change in tariff classification(?: is)?(?: required)?|No required tariff change|"
    r"No required change in tariff classification)(?P<rest>.*)$",
    re.I | re.S,
)
_PRODUCTION = re.compile(r"^Production of (?P<good>.*?) as the result of (?P<proc>.*)$", re.I | re.S)
_WHETHER = re.compile(r",?\s*whether or not there is also a change from ", re.I)
_LEVEL_ALT = r"(chapter|heading|subheading|tariff item)"
_SCOPE_WORDS = re.compile(
    r"(?P<desc>(?:(?!\bor\b)[\w\-\"]+ ){0,4}?)?within (?:that|those|these|this|the same) "
    r"(?:subheadings?|headings?|group)",
    re.I,
)


@dataclass(slots=True)
class Target:
    codes: CodeSet
    qualifier: str | None  # descriptive words around "of <level> ...", None for "a good" / plain codes
    other: bool = False  # "any other good of ..."


_TARGET_AT = re.compile(rf"(?:\bof (?:any of )?|\bwithin |^)(?={_LEVEL_WORD}\s+{_CODE})", re.I)


def parse_target(text: str) -> tuple[Target | None, str | None]:
    t = text.strip().rstrip(",")
    t = re.sub(r"\s+is required$", "", t)
    cands = [
        m
        for m in _TARGET_AT.finditer(t)
        if not re.search(
            r"(?:for (?:use in )?(?:a )?(?:motor )?vehicles?|motor vehicles?) of\s*$", t[: m.end()]
        )
    ]
    if not cands:
        bare = re.search(r"\bof (\d{4}\.\d{2}(?:\.\d{2})?)\b", t)  # "a good of 9031.90" (no level word)
        if bare:
            code = bare.group(1).replace(".", "")
            desc = t[: bare.start()].strip()
            return _target(CodeSet.of(code), desc, t[bare.end() :]), None
        return None, f"no code in the target {t!r}"
    m = cands[-1]
    lst = parse_code_list(t, m.end())
    if not lst.codes:
        return None, f"no code in the target {t!r}"
    return _target(lst.codes, t[: m.start()], t[lst.end :]), None


def _target(codes: CodeSet, desc: str, tail: str) -> Target:
    desc = re.sub(r"\s+of$", "", desc.strip()).strip(" ,")
    tail = tail.strip(" ,")
    low = desc.lower()
    if low in ("", "a good", "goods", "any good", "a good of any of"):
        return Target(codes, tail or None)
    if low in ("any other good", "other goods", "any other goods", "any other"):
        return Target(codes, tail or None, other=True)
    desc = re.sub(r"^(?:a|an) ", "", desc, flags=re.I)
    return Target(codes, (desc + (", " + tail if tail else "")).strip())


def _level_word(s: str) -> Level:
    return _level_of_word(s)


def _described(codes: CodeSet, text: str, name: str) -> Condition:
    return Condition("other", name, text, (), (codes,))


def parse_source(src: str, scope: CodeSet) -> tuple[TariffShift | None, list[Condition], str | None]:
    """The text after "from" up to the exception / whether-or-not / proviso clauses."""
    s = src.strip().rstrip(",;. ")
    s = re.sub(r"\s+or$", "", s)
    low = s.lower()
    m = re.fullmatch(rf"any other {_LEVEL_ALT}", low)
    if m:
        return TariffShift("any_other", _level_word(m.group(1)), group=scope, text=s), [], None
    m = re.fullmatch(
        rf"any other {_LEVEL_ALT},? including another {_LEVEL_ALT} within (?:that|this) group", low
    )
    if m:
        lvl = _level_word(m.group(1))
        if _level_word(m.group(2)) != lvl:
            return None, [], f"group level differs from the change level: {s!r}"
        return TariffShift("including_group", lvl, group=scope, text=s), [], None
    m = re.fullmatch(rf"(?:any )?{_LEVEL_ALT} outside (?:that|this) ?group", low)
    if m:
        return TariffShift("outside_group", _level_word(m.group(1)), group=scope, text=s), [], None
    m = re.fullmatch(
        rf"any other {_LEVEL_ALT} within chapter \d+(?:, including another \w+ within that group)?", low
    )
    if m:
        # only meaningful with "whether or not there is also a change from any other chapter" (checked by the
        # caller): together they admit every material of another <level>
        return TariffShift("any_other", _level_word(m.group(1)), group=scope, text=s), [], None
    m = re.fullmatch(rf"any {_LEVEL_ALT}", low)
    if m:  # "from any chapter" (print oddity, ch 57): read as "any other"
        return TariffShift("any_other", _level_word(m.group(1)), group=scope, text=s), [], None
    return _from_codes(s, scope)


def _split_also(s: str) -> tuple[str, Level | None]:
    mm = re.search(
        rf",? or (?:from )?any other {_LEVEL_ALT}(?:, including another \w+ within that group)?$", s, re.I
    )
    if mm:
        return s[: mm.start()].strip(" ,"), _level_word(mm.group(1))
    return s, None


def _from_codes(s: str, scope: CodeSet) -> tuple[TariffShift | None, list[Condition], str | None]:
    conds: list[Condition] = []
    body, also = _split_also(s)
    mt = _MORE_THAN_ONE.match(body)
    if mt:
        # "(B) A change ... from more than one of the following: (1)..., (2)..." is the complement of an
        # "except from more than one of the following" branch: as an OR with it, admitting every
        # listed group is
        # exact.
        groups = _groups(mt.group("list"))
        if len(groups) < 2:
            return None, conds, f"cannot read the groups of 'more than one of the following': {body!r}"
        union = tuple(r for g in groups for r in g.ranges)
        return (
            TariffShift(
                "from_codes",
                also or "subheading",
                group=scope,
                from_codes=CodeSet(union),
                also_from_level=also,
                text=s,
            ),
            conds,
            None,
        )
    # "within that subheading", "any other good within those subheadings" name the rule's own codes
    extra: list[CodeRange] = []
    sw = _SCOPE_WORDS.search(body)
    if sw:
        extra.extend(scope.ranges)
        d = (sw.group("desc") or "").strip()
        if d.lower() not in (
            "",
            "any other good",
            "any other subheading",
            "any other heading",
            "any other goods",
        ):
            conds.append(
                _described(
                    scope,
                    f"materials of the good's own codes qualify only as described: {d}",
                    "source_material_description",
                )
            )
        body = _SCOPE_WORDS.sub(" ", body)
        body = re.sub(r"^[\s,]*(?:or\b)?[\s,]*|[\s,]*(?:or\b)?[\s,]*$", "", body)
        body = re.sub(r"\s*,\s*(?:or\s+)?,", ",", body)
    desc_words: tuple[str, ...] = ()
    if body:
        first = re.search(rf"{_LEVEL_WORD}\s+{_CODE}", body, re.I)
        if first is None:
            return None, conds, f"cannot read the source clause {s!r}"
        lst = parse_code_list(body, 0, allow_words=True, stop_words=("provided", "except"))
        rest = body[lst.end :].strip(" ,.")
        if rest or not lst.codes:
            return None, conds, f"cannot read the source clause {s!r} (left: {rest!r})"
        desc_words = lst.words
        if desc_words:
            # Described materials ("parts of brakes of subheading 8708.30"): the codes are allowed
            # sources, but only
            # for the materials the text describes; the engine needs the fact for any such material.
            conds.append(
                _described(
                    lst.codes,
                    f"materials from these codes qualify only as described: from {s}",
                    "source_material_description",
                )
            )
        extra.extend(lst.codes.ranges)
    if not extra:
        return None, conds, f"no code in the source clause {s!r}"
    lvl: Level = also or "subheading"
    return (
        TariffShift(
            "from_codes", lvl, group=scope, from_codes=CodeSet(tuple(extra)), also_from_level=also, text=s
        ),
        conds,
        None,
    )


_MORE_THAN_ONE = re.compile(r"^\s*more than one of the following:?\s*(?P<list>.*)$", re.I | re.S)


def _groups(listing: str) -> tuple[CodeSet, ...]:
    parts = re.split(r"[,;]?\s*(?:or\s+|and\s+)?\((?:\d|[A-Z])\)\s*", listing)
    out = []
    for p in parts:
        p = p.strip(" ,;.")
        if p:
            cs = parse_code_list(p, 0).codes
            if cs:
                out.append(cs)
    return tuple(out)


def _exception(et: str, scope: CodeSet) -> tuple[CodeSet, list[Condition], str | None]:
    """The text after "except (from)". Returns the per-material exclusions and conditions for the rest."""
    et = et.strip(" ,.;")
    split = re.search(r",?\s*\bor more than one of the following:?\s*(?=\((?:\d|[A-Z])\))", et, re.I)
    if split:
        # "except from heading 8459 or more than one of the following: (A) ..., (B) ..."
        codes, c1, w1 = _exception(et[: split.start()], scope)
        _, c2, w2 = _exception("more than one of the following: " + et[split.end() :], scope)
        return codes, c1 + c2, w1 or w2
    mt = _MORE_THAN_ONE.match(et)
    if mt:
        groups = _groups(mt.group("list"))
        if len(groups) < 2:
            return CodeSet(), [], f"cannot read the groups of 'more than one of the following': {et!r}"
        return (
            CodeSet(),
            [
                Condition(
                    "other",
                    "nonoriginating_from_at_most_one_group",
                    "non-originating materials may come from at most one of the listed groups "
                    f"(except from {et})",
                    (),
                    groups,
                )
            ],
            None,
        )
    if re.fullmatch(r"any (?:other )?(?:subheading|heading) within (?:that|this) group", et, re.I):
        return scope, [], None
    if re.fullmatch(r"\d{4}", et):  # "except from 4107" (print oddity: no level word)
        et = "heading " + et
    lst = parse_code_list(et, 0, allow_words=True, stop_words=("provided",))
    left = et[lst.end :].strip(" ,.;")
    if not lst.words and not left:
        if not lst.codes:
            return CodeSet(), [], f"cannot read the exception {et!r}"
        return lst.codes, [], None
    # Described materials ("cords or string ... of subheading 6812.80", "assemblies incorporating ..."): the
    # clean list before the first description is a per-material exclusion; the described part needs the fact
    # (only when a non-originating material falls in its codes, or always when it names no code).
    clean = parse_code_list(et, 0)
    head_codes = clean.codes
    rest = et[clean.end :].strip(" ,")
    rest = re.sub(r"^(?:or|and)\s+", "", rest)
    rest_codes = parse_code_list(rest, 0, allow_words=True, stop_words=("provided",)).codes
    if not rest_codes:  # "battery cells of 8507.90" (a code printed without its level word)
        bare = re.findall(r"\b\d{4}\.\d{2}(?:\.\d{2})?\b", rest)
        rest_codes = CodeSet.of(*bare) if bare else rest_codes
    groups = (rest_codes,) if rest_codes else ()
    cond = Condition(
        "other",
        "excepted_material_description",
        f"no non-originating material as described may be used: except from {rest}",
        (),
        groups,
    )
    return head_codes, [cond], None


def parse_branch(
    label: str, text: str, prev_target: Target | None = None
) -> tuple[Alternative, Target | None]:
    """Parse one branch ("A change to ... from ..., except ..., provided ...")."""
    raw = text.strip()
    t = re.sub(r"\s+", " ", raw).strip()
    t = re.sub(r"(?:[.;,]\s*)*(?:\b(?:or|and)\b)?\s*$", "", t).strip().rstrip(".;, ")
    conds: list[Condition] = []
    rvc: RegionalValueContent | None = None
    reason: str | None = None

    prov_at = _RVC_START.search(t)
    other_prov = re.search(
        r"(?:,?\s+provided that\b|,\s*provided\b)(?! (?:that )?(?:there is (?:also )?(?:a )?|the )regional)",
        t,
        re.I,
    )
    if prov_at:
        rvc, why = parse_rvc(t[prov_at.start() :])
        reason = why
        head = t[: prov_at.start()]
        if other_prov and other_prov.start() < prov_at.start():
            more, _ = parse_proviso(t[other_prov.start() : prov_at.start()])
            conds.extend(more)
            head = t[: other_prov.start()]
    elif other_prov:
        more, _ = parse_proviso(t[other_prov.start() :])
        conds.extend(more)
        head = t[: other_prov.start()]
    else:
        head = t
    head = head.strip(" ,;.")

    tgt: Target | None
    m = _PRODUCTION.match(head)
    if m:
        tgt, why = parse_target(m.group("good"))
        procs = tuple(p.strip() for p in re.split(r",\s*(?:or\s+)?|\s+or\s+", m.group("proc")) if p.strip())
        conds.insert(
            0,
            Condition(
                "process", "production_process", f"production as the result of {m.group('proc')}", procs
            ),
        )
        shift = TariffShift("no_change", "heading", text="production of the good by a named process")
        return _alt(label, shift, rvc, conds, tgt, raw, why or reason), tgt

    m = _NOCHANGE.match(head)
    if m:
        rest = m.group("rest").strip(" ,")
        tgt = prev_target
        why = None
        # "whether or not there is also a change from ..." adds nothing to a no-change branch
        rest = _WHETHER.split(rest)[0] if _WHETHER.search(rest) else rest
        if rest:
            rest = re.sub(r"^(?:is required |required )?(?:to|for) ", "", rest, flags=re.I)
            exc = re.search(
                r",? except for (?:a good|goods) of (?P<lvl>subheading|heading) (?P<code>[\d.]+)$", rest
            )
            tgt, why = parse_target(rest[: exc.start()] if exc else rest)
            if exc and tgt is not None:
                cut = exc.group("code").replace(".", "")
                tgt = Target(_minus(tgt.codes, cut), tgt.qualifier, tgt.other)
        shift = TariffShift("no_change", "heading", text="no change in tariff classification required")
        return _alt(label, shift, rvc, conds, tgt, raw, why or reason), tgt

    if re.match(r"^(?:A )?regional value content", head, re.I) or (not head and rvc):
        return _alt(label, None, rvc, conds, prev_target, raw, reason), prev_target

    m = _CHANGE.match(head)
    if m is not None:
        rest = m.group("rest")
        fm = re.search(r"\s+from\s+", rest)
        if fm is None:
            return _alt(label, None, rvc, conds, None, raw, "a change with no 'from' clause"), None
        tgt, why = parse_target(rest[: fm.start()])
        if tgt is None:
            return _alt(label, None, rvc, conds, None, raw, why), None
        src = rest[fm.end() :]
    else:
        m2 = _CHANGE_NO_TARGET.match(head)
        if m2 is None or prev_target is None:
            return _alt(label, None, rvc, conds, None, raw, f"unrecognised branch form: {head[:80]!r}"), None
        # "(B) A change from any other subheading ..." (print oddity: no target) — the branch's target is the
        # previous branch's.
        tgt = prev_target
        src = m2.group("rest")[5:]
    # split the source into main / whether-or-not / exception parts
    wh = _WHETHER.search(src)
    exc = re.search(r",?\s*\b(?:except\b(?:\s+from)?|excluding\b)", src, re.I)
    cut_points = [x.start() for x in (wh, exc) if x is not None]
    src_main = src[: min(cut_points)] if cut_points else src
    whether_text = ""
    exc_text = ""
    if wh is not None:
        w_end = exc.start() if exc is not None and exc.start() > wh.start() else len(src)
        whether_text = src[wh.end() : w_end]
    if exc is not None:
        e_end = wh.start() if wh is not None and wh.start() > exc.start() else len(src)
        exc_text = src[exc.end() : e_end]
    scope = tgt.codes
    parsed_shift, sconds, why = parse_source(src_main, scope)
    conds = sconds + conds
    if parsed_shift is None:
        return _alt(label, None, rvc, conds, tgt, raw, why), tgt
    shift = parsed_shift
    if "within chapter" in shift.text and not whether_text:
        return _alt(
            label, None, rvc, conds, tgt, raw, f"source {shift.text!r} without a wider whether-or-not clause"
        ), tgt
    if whether_text:
        wshift, wconds, wwhy = parse_source(whether_text, scope)
        if wshift is None:
            return _alt(label, None, rvc, conds, tgt, raw, f"whether-or-not clause: {wwhy}"), tgt
        conds += wconds
        if shift.kind in ("any_other", "including_group"):
            # "from any other subheading, whether or not there is also a change from any other chapter": the
            # general shift already admits every material the clause names.
            if not (wshift.kind == "any_other" and LEVEL_DIGITS[wshift.level] <= LEVEL_DIGITS[shift.level]):
                return _alt(
                    label, None, rvc, conds, tgt, raw, "whether-or-not clause wider than the shift"
                ), tgt
        elif shift.kind == "from_codes":
            if wshift.kind == "any_other" or (wshift.kind == "including_group"):
                shift = TariffShift(
                    "from_codes",
                    wshift.level,
                    scope,
                    shift.from_codes,
                    wshift.level,
                    shift.except_from,
                    shift.text + "; whether or not there is also a change from " + whether_text.strip(),
                )
            elif wshift.kind == "from_codes":
                merged = CodeSet(shift.from_codes.ranges + wshift.from_codes.ranges)
                shift = TariffShift(
                    "from_codes",
                    wshift.level,
                    scope,
                    merged,
                    wshift.also_from_level,
                    shift.except_from,
                    shift.text + "; whether or not there is also a change from " + whether_text.strip(),
                )
            elif wshift.kind == "outside_group" and not any(
                r.overlaps(g) for r in shift.from_codes.ranges for g in scope.ranges
            ):
                # "from housings of 8467.91 ... or heading 8501, whether or not there is also a change
                # from any subheading outside that group": every named source is outside the group, so the
                # branch admits exactly the materials from outside the group (descriptions add nothing)
                conds = [c for c in conds if c.name != "source_material_description"]
                shift = TariffShift(
                    "outside_group",
                    wshift.level,
                    scope,
                    CodeSet(),
                    None,
                    shift.except_from,
                    shift.text + "; whether or not there is also a change from " + whether_text.strip(),
                )
            else:
                return _alt(
                    label,
                    None,
                    rvc,
                    conds,
                    tgt,
                    raw,
                    f"whether-or-not clause {whether_text.strip()!r} is not expressible",
                ), tgt
        else:
            return _alt(
                label, None, rvc, conds, tgt, raw, "'whether or not' clause after this shift kind"
            ), tgt
    if exc_text:
        codes, econds, ewhy = _exception(exc_text, scope)
        if ewhy:
            return _alt(label, None, rvc, conds, tgt, raw, ewhy), tgt
        conds += econds
        if codes:
            shift = TariffShift(
                shift.kind,
                shift.level,
                shift.group,
                shift.from_codes,
                shift.also_from_level,
                codes,
                shift.text + "; except from " + exc_text.strip(" ,.;"),
            )
    return _alt(label, shift, rvc, conds, tgt, raw, reason), tgt


def _minus(cs: CodeSet, code: str) -> CodeSet:
    """Remove one code from same-width ranges (used for "..., except for a good of subheading 2916.32")."""
    out: list[CodeRange] = []
    for r in cs.ranges:
        if r.width == len(code) and r.start <= code <= r.end:
            lo = str(int(code) - 1).zfill(len(code))
            hi = str(int(code) + 1).zfill(len(code))
            if r.start <= lo:
                out.append(CodeRange(r.start, lo))
            if hi <= r.end:
                out.append(CodeRange(hi, r.end))
        else:
            out.append(r)
    return CodeSet(tuple(out))


def _alt(
    label: str,
    shift: TariffShift | None,
    rvc: RegionalValueContent | None,
    conds: list[Condition],
    tgt: Target | None,
    raw: str,
    reason: str | None,
) -> Alternative:
    return Alternative(
        label, shift, rvc, tuple(conds), _qual(tgt), raw, reason, tgt.codes if tgt is not None else CodeSet()
    )


def _qual(tgt: Target | None) -> Condition | None:
    if tgt is None:
        return None
    if tgt.other:
        return Condition(
            "good_type",
            "good_type",
            "any other good of the codes" + (f" ({tgt.qualifier})" if tgt.qualifier else ""),
            (OTHER,),
        )
    if tgt.qualifier:
        return Condition("good_type", "good_type", tgt.qualifier, (tgt.qualifier,))
    return None


# ---------------------------------------------------------------- one paragraph -> rule(s)

_BRANCH_LABEL = re.compile(
    r"(?:(?<=^)|(?<=[\s;,.:]))\((?P<l>[A-Z]|[a-h])\)\s*(?=(?:A |An |No |Production|For |Whether|A$|"
    r"change|regional))",
)


@dataclass(slots=True)
class ParsedRule:
    scope: CodeSet
    alternatives: tuple[Alternative, ...]
    use: tuple[str, ...] = ()
    use_text: str = ""
    good: Condition | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    lead_in: str = ""
    unparsed_reason: str | None = None
    targets: list[CodeSet] = field(default_factory=list)  # per alternative, as written
    notes: list[str] = field(default_factory=list)  # print oddities normalised


def split_branches(body: str) -> list[tuple[str, str]]:
    """Split "(A) ...; or (B) ..." into labelled branches; RVC sub-lists "(A) 60 percent ..." are not
    split."""
    marks = list(_BRANCH_LABEL.finditer(body))
    if not marks:
        return [("", body)]
    out: list[tuple[str, str]] = []
    pre = body[: marks[0].start()].strip()
    if pre and not re.fullmatch(r"[;,.:\s]*", pre):
        out.append(("", pre))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        out.append((m.group("l"), body[m.end() : end].strip()))
    # "(C) Whether or not there is also a change ..." continues the branch before it
    merged: list[tuple[str, str]] = []
    for lab, txt in out:
        if merged and re.match(r"whether or not", txt, re.I):
            pl, pt = merged[-1]
            merged[-1] = (pl, pt.rstrip(" ,;") + ", " + txt[0].lower() + txt[1:])
        else:
            merged.append((lab, txt))
    return merged


_LEAD_FOR = re.compile(
    r"^For (?P<what>(?:a|an|any other) .+?(?: for use in .+?| used for .+?)?):\s*(?P<rest>.*)$", re.S
)
_LEAD_TIME = re.compile(
    rf"^Beginning on {_DATE}(?:,? until (?P<until>{_DATE})|,? and thereafter)?,? the following "
    r"rules? of origin "
    r"shall apply to (?P<codes>[^:]*):\s*(?P<rest>.*)$",
    re.S,
)
_LEAD_APPLIES = re.compile(
    r"^(?:(?:Chapter|Heading|Subheading) rule(?: \d+)?: )?(?:For the purposes of |The following rule "
    r"applies to )"
    r"(?P<what>.*?)(?:the following rules? of origin "
    r"(?:applies|apply)|\[\.\.\.\]|:)\s*:?\s*(?P<rest>\(a\).*)$",
    re.S | re.I,
)


# Print oddities read in the evident sense; each use is recorded on the rule (provenance) so nothing
# is silent.
_NORMALISE: tuple[tuple[str, str, str], ...] = (
    (r"\bthatgroup\b", "that group", "'thatgroup' read as 'that group'"),
    (r"(;\s*or\s+)([A-H])\)\s", r"\1(\2) ", "branch label 'X)' without '(' read as '(X)'"),
    (
        r"\bany other good subheading\b",
        "any other good of subheading",
        "'any other good subheading' read with 'of'",
    ),
)


def normalise(text: str) -> tuple[str, list[str]]:
    notes = []
    for pat, rep, note in _NORMALISE:
        new = re.sub(pat, rep, text)
        if new != text:
            notes.append(f"print oddity: {note}")
            text = new
    return text, notes


def parse_uses(text: str) -> tuple[str, ...]:
    low = text.lower()
    return tuple(v for w, v in USE_WORDS if w in low)


def parse_paragraph(text: str) -> list[ParsedRule]:
    """Parse one rule paragraph (without its number). Returns one rule, or two where the print embeds a second
    rule as branches ("(D) For any other good of subheading 8708.92: (E) ...")."""
    body, notes = normalise(re.sub(r"\s+", " ", text).strip())
    lead_scope: CodeSet | None = None
    valid_from = valid_to = None
    lead_in = ""
    m = _LEAD_TIME.match(body)
    if m:
        valid_from = dt.date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
        if m.group("until"):
            valid_to = parse_date(m.group("until"))
        lead_scope = codes_in(m.group("codes"))
        lead_in = body[: m.start("rest")].strip()
        body = m.group("rest")
    m = _LEAD_APPLIES.match(body)
    if m:
        lead_in = (lead_in + " " + body[: m.start("rest")]).strip()
        cs = codes_in(m.group("what"))
        if cs:
            lead_scope = cs
        body = m.group("rest")
    # embedded second rule ("(D) For any other good of ...:")
    emb = re.search(r"\s\([A-Z]\) (For (?:a|an|any other) [^:]+:.*)$", body)
    if emb and _LEAD_FOR.match(body):
        first = parse_paragraph(body[: emb.start()])
        second = parse_paragraph(emb.group(1))
        return first + second
    use: tuple[str, ...] = ()
    use_text = ""
    good: Condition | None = None
    m = _LEAD_FOR.match(body)
    if m:
        what = m.group("what")
        use_text = f"For {what}"
        body = m.group("rest")
        um = re.search(r" (?:for use in|used for) (.+)$", what)
        goods_part = what[: um.start()] if um else what
        if um:
            use = parse_uses(um.group(1))
        gm = re.match(rf"(?P<desc>.*?) of (?:any of )?(?={_LEVEL_WORD})", goods_part)
        desc = gm.group("desc") if gm else goods_part
        lead_scope = codes_in(goods_part) or lead_scope
        if desc.startswith("any other"):
            if um:
                good = Condition(
                    "good_type", "good_type", f"{desc} (than named by the sibling rules)", (OTHER,)
                )
            else:
                use = (OTHER,)
        elif desc not in ("a good", "a good or goods"):
            d = re.sub(r"^(?:a|an) ", "", desc)
            good = Condition("good_type", "good_type", d, (d,))
        if um and not use:
            return [
                ParsedRule(
                    lead_scope or CodeSet(),
                    (),
                    use_text=use_text,
                    lead_in=lead_in,
                    unparsed_reason=f"end use not recognised: {um.group(1)!r}",
                )
            ]
    alts: list[Alternative] = []
    targets: list[CodeSet] = []
    prev: Target | None = None
    for label, btxt in split_branches(body):
        alt, tgt = parse_branch(label, btxt, prev)
        alts.append(alt)
        targets.append(tgt.codes if tgt else CodeSet())
        prev = tgt or prev
    alts = _use_qualifiers(alts)
    scope = lead_scope
    if scope is None:
        rs: list[CodeRange] = []
        for cs in targets:
            for r in cs.ranges:
                if r not in rs:
                    rs.append(r)
        # a branch target inside another branch's target adds nothing to the scope
        rs = [
            r
            for r in rs
            if not any(
                o != r and o.width <= r.width and o.contains(r.start) and o.contains(r.end) for o in rs
            )
        ]
        scope = CodeSet(tuple(rs))
    reason = None
    if not scope:
        reason = "no scope could be read"
    return [
        ParsedRule(
            scope, tuple(alts), use, use_text, good, valid_from, valid_to, lead_in, reason, targets, notes
        )
    ]


def _use_qualifiers(alts: list[Alternative]) -> list[Alternative]:
    """ "A change to a passenger vehicle of ..." names the good by its end use: the qualifier becomes a
    ``use``
    condition (fact ``good.use``); a sibling "any other good of ..." is then its complement ("*other*")."""
    out = list(alts)
    named_use = False
    for i, a in enumerate(out):
        q = a.good_qualifier
        if q is not None and OTHER not in q.values:
            uses = parse_uses(q.text)
            if uses and re.fullmatch(
                r"(?:passenger vehicle|light truck|heavy truck)s?", q.text.strip(), re.I
            ):
                out[i] = replace(a, good_qualifier=Condition("use", "use", q.text, uses))
                named_use = True
    if named_use and all(
        a.good_qualifier is None or a.good_qualifier.kind == "use" or OTHER in a.good_qualifier.values
        for a in out
    ):
        for i, a in enumerate(out):
            q = a.good_qualifier
            if q is not None and OTHER in q.values:
                out[i] = replace(a, good_qualifier=Condition("use", "use", q.text, (OTHER,)))
    return out


# ---------------------------------------------------------------- file level


@dataclass(frozen=True, slots=True)
class Item:
    kind: str  # "rule" | "note"
    number: str  # rule number ("7"), or "" for notes
    label: str  # the NOTE label (extractor's), "" for rules
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class ChapterFile:
    chapter: str
    header: tuple[str, ...]  # "# " comment lines
    items: tuple[Item, ...]


def read_chapter(text: str, chapter: str) -> ChapterFile:
    header: list[str] = []
    items: list[Item] = []
    lines = text.splitlines()
    buf: list[str] = []
    start = 0

    def flush() -> None:
        if not buf:
            return
        para = " ".join(s.strip() for s in buf).strip()
        m = re.match(r"^(\d+)\.\s+(.*)$", para, re.S)
        if m:
            items.append(Item("rule", m.group(1), "", m.group(2), start))
        else:
            n = re.match(r"^NOTE \((?P<label>.*?)\):\s*(?P<text>.*)$", para, re.S)
            if n is None:
                raise ValueError(
                    f"chapter {chapter} line {start}: paragraph is neither a rule nor a NOTE: {para[:60]!r}"
                )
            items.append(Item("note", "", n.group("label"), n.group("text"), start))
        buf.clear()

    for i, line in enumerate(lines, start=1):
        if line.startswith("# "):
            header.append(line[2:])
            continue
        if not line.strip():
            flush()
            continue
        if not buf:
            start = i
        buf.append(line)
    flush()
    return ChapterFile(chapter, tuple(header), tuple(items))


def inferred_numbers(header: tuple[str, ...]) -> tuple[set[str], bool]:
    """Rule numbers the file header says were inferred (and whether all of them were)."""
    nums: set[str] = set()
    all_ = False
    for h in header:
        m = re.search(r"rule numbers inferred[^:]*:\s*(.*)$", h, re.I)
        if m:
            val = m.group(1).strip()
            if val.lower().startswith("all"):
                all_ = True
            for part in re.split(r",\s*", val):
                rng = re.fullmatch(r"(\d+)-(\d+)", part.strip())
                if rng:
                    nums.update(str(k) for k in range(int(rng.group(1)), int(rng.group(2)) + 1))
                elif part.strip().isdigit():
                    nums.add(part.strip())
    return nums, all_


def note_kind(label: str, text: str) -> str:
    """Classify a NOTE paragraph: 'time_rule', 'trade_rule' (both hold rules of origin) or a plain note
    kind."""
    low = label.lower()
    has_rule = bool(re.search(r"\(a\) A change to|: A change to|^A change to|\(a\) No change", text))
    if "time-based" in low and has_rule:
        return "time_rule"
    if "trade" in low and has_rule:
        return "trade_rule"
    if re.search(r"the following rule applies to a good of tariff items", text) and has_rule:
        return "special_rule"
    if "underscor" in text.lower():
        return "underscoring"
    if low.startswith("chapter rule"):
        return "chapter_rule"
    if low.startswith("heading rule"):
        return "heading_rule"
    if low.startswith("subheading rule"):
        return "subheading_rule"
    return "note"


def trade_of(label: str) -> tuple[str, ...]:
    low = label.lower()
    if "canada-us" in low:
        return ("CA-US",)
    if "mexico-us" in low:
        return ("MX-US",)
    if "all other trade" in low:
        return (OTHER,)
    return ()


def dates_in_label(label: str) -> tuple[dt.date | None, dt.date | None]:
    """Dates the extractor paraphrased in a NOTE label ("phase 2020-07-01 until 2023-06-30 per source")."""
    m = re.search(r"phase (\d{4}-\d{2}-\d{2}) until (\d{4}-\d{2}-\d{2})", label)
    if m:
        return dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
    m = re.search(r"from (\d{4}-\d{2}-\d{2})", label)
    if m:
        return dt.date.fromisoformat(m.group(1)), None
    return None, None
