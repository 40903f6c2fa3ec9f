"""Units of quantity for specific rates, and the keys of the ``quantities`` mapping.

A key is a base unit (``kg``, ``liter``, ``no``, ``doz``, ``m2``, ...) optionally qualified by what is
measured: ``kg:Pb`` (kilograms of lead content), ``kg:drained`` (drained weight), ``kg:total_sugars``.
Element contents use the chemical symbol, as the HTS ``units`` column does (``Pb kg``), so a quantity reported
in the line's own unit feeds the rate directly. Values of parts of a good (ad valorem on the case, on the
battery, on the aluminum content) use ``value:<part>`` keys; they are money, not units, but travel in the
same mapping.

Conversions are only between units of one dimension with a fixed legal ratio (t = 1,000 kg, gross = 144 No.,
doz. = 12 No., ...) and never across qualifiers: 5 t of lead content is 5,000 ``kg:Pb``, never ``kg``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from usmca.errors import InputError

# Base unit key -> label used in formulas and in ``needs``.
BASE_LABELS: dict[str, str] = {
    "kg": "kg",
    "g": "g",
    "t": "t",
    "liter": "liters",
    "pf_liter": "proof liters",
    "no": "No.",
    "doz": "doz.",
    "gross": "gross",
    "hundred": "hundreds",
    "thousand": "thousands",
    "pr": "pairs",
    "doz_pr": "dozen pairs",
    "m": "m",
    "thousand_m": "thousand m",
    "m2": "m2",
    "cm2": "cm2",
    "m3": "m3",
    "thousand_m3": "thousand m3",
    "bbl": "bbl",
    "carat": "carats",
    "gross_line": "line-gross (lignes x gross)",
    "jewel": "jewels",
    "pack": "packs",
    "watt": "W",
    "mwh": "MWh",
    "gbq": "GBq",
    "dose": "doses",
    "square": "squares",
    "fiber_m": "fiber m",
    "polarity": "degrees of polarity",
}

# Qualifier -> label ("kg of lead content").
QUALIFIER_LABELS: dict[str, str] = {
    "drained": "drained weight",
    "total_sugars": "total sugars",
    "clean": "clean yield",
    "contents": "entire contents of container",
    "gross_weight": "gross weight including container",
    "anhydrous_morphine": "anhydrous morphine content",
    "cmsc": "cmsc",
    "msc": "msc",
    "adw": "air dry weight",
    "dwb": "dry weight basis",
    "recording_surface": "recording surface",
    "immediate_containers": "immediate containers",
    "other_parts": "other pieces or parts",
}

# Element or compound content named in rate texts and in the HTS units column.
ELEMENTS: dict[str, str] = {
    "lead": "Pb",
    "copper": "Cu",
    "molybdenum": "Mo",
    "tungsten": "W",
    "magnesium": "Mg",
    "manganese": "Mn",
    "silicon": "Si",
    "zinc": "Zn",
    "silver": "Ag",
    "gold": "Au",
    "cobalt": "Co",
    "chromium": "Cr",
    "nickel": "Ni",
    "vanadium": "V",
    "antimony": "Sb",
    "tin": "Sn",
    "iridium": "Ir",
    "osmium": "Os",
    "palladium": "Pd",
    "platinum": "Pt",
    "rhodium": "Rh",
    "ruthenium": "Ru",
}
_SYMBOL_NAMES = {v: k for k, v in ELEMENTS.items()}
_COMPOUNDS = {"Cr2O3", "NH3", "NaOH", "V2O5"}

# Dimension groups: unit -> (dimension, factor to the group's reference unit).
_FACTORS: dict[str, tuple[str, Decimal]] = {
    "kg": ("mass", Decimal(1)),
    "g": ("mass", Decimal("0.001")),
    "t": ("mass", Decimal(1000)),
    "no": ("count", Decimal(1)),
    "doz": ("count", Decimal(12)),
    "gross": ("count", Decimal(144)),
    "hundred": ("count", Decimal(100)),
    "thousand": ("count", Decimal(1000)),
    "pr": ("pairs", Decimal(1)),
    "doz_pr": ("pairs", Decimal(12)),
    "m": ("length", Decimal(1)),
    "thousand_m": ("length", Decimal(1000)),
    "m2": ("area", Decimal(1)),
    "cm2": ("area", Decimal("0.0001")),
    "m3": ("volume", Decimal(1)),
    "thousand_m3": ("volume", Decimal(1000)),
    "liter": ("volume", Decimal("0.001")),
}

# Spellings of the HTS ``units`` column and of rate texts (lower-cased, spaces collapsed) -> key.
_SPELLINGS: dict[str, str] = {
    "kg": "kg",
    "kgs": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "t": "t",
    "ton": "t",
    "tons": "t",
    "tonne": "t",
    "tonnes": "t",
    "metric ton": "t",
    "l": "liter",
    "liter": "liter",
    "liters": "liter",
    "litre": "liter",
    "litres": "liter",
    "pf.liters": "pf_liter",
    "pf.liter": "pf_liter",
    "pf. liter": "pf_liter",
    "pf. liters": "pf_liter",
    "proof liter": "pf_liter",
    "proof liters": "pf_liter",
    "no.": "no",
    "no": "no",
    "number": "no",
    "each": "no",
    "pcs": "no",
    "pcs.": "no",
    "pieces": "no",
    "piece": "no",
    "head": "no",
    "article": "no",
    "articles": "no",
    "doz.": "doz",
    "doz": "doz",
    "dozen": "doz",
    "dz pcs": "doz",
    "gross": "gross",
    "hundreds": "hundred",
    "hundred": "hundred",
    "thousands": "thousand",
    "thousand": "thousand",
    "1000": "thousand",
    "1,000": "thousand",
    "prs.": "pr",
    "pr.": "pr",
    "pr": "pr",
    "prs": "pr",
    "pair": "pr",
    "pairs": "pr",
    "doz. prs.": "doz_pr",
    "doz prs": "doz_pr",
    "dozen pairs": "doz_pr",
    "m": "m",
    "lin. m": "m",
    "lin.m": "m",
    "linear m": "m",
    "meter": "m",
    "meters": "m",
    "thousand m": "thousand_m",
    "m2": "m2",
    "m²": "m2",
    "sq. m": "m2",
    "cm2": "cm2",
    "cm²": "cm2",
    "m3": "m3",
    "m³": "m3",
    "thousand m3": "thousand_m3",
    "bbl": "bbl",
    "barrel": "bbl",
    "barrels": "bbl",
    "carat": "carat",
    "carats": "carat",
    "gr.lines": "gross_line",
    "line/gross": "gross_line",
    "line/ gross": "gross_line",
    "jwls.": "jewel",
    "jwls": "jewel",
    "jewel": "jewel",
    "jewels": "jewel",
    "pack": "pack",
    "packs": "pack",
    "w": "watt",
    "watt": "watt",
    "mwh": "mwh",
    "gbq": "gbq",
    "doses": "dose",
    "dose": "dose",
    "square": "square",
    "fiber m": "fiber_m",
    "polarity": "polarity",
    "degrees": "polarity",
    # qualified measures of the units column
    "kg ttl sug": "kg:total_sugars",
    "kg amc": "kg:anhydrous_morphine",
    "cy kg": "kg:clean",
    "clean kg": "kg:clean",
    "kg cmsc": "kg:cmsc",
    "kg msc": "kg:msc",
    "t adw": "t:adw",
    "t dwb": "t:dwb",
}

_ELEMENT_UNIT = re.compile(r"^([A-Z][A-Za-z0-9]*)\s+(kg|g|t)$")


def _check_key(text: str) -> str | None:
    """Return ``text`` when it already is a key (``kg``, ``kg:Pb``, ``value:case``), else None."""
    if text.startswith("value:") and len(text) > 6:
        return text
    base, sep, qual = text.partition(":")
    if base not in BASE_LABELS:
        return None
    if not sep:
        return base
    if qual in QUALIFIER_LABELS or qual in _SYMBOL_NAMES or qual in _COMPOUNDS:
        return text
    return None


def normalize_unit(text: str) -> str:
    """Map a unit as spelled in the HTS ``units`` column, in a rate text or by a user to its quantity key.

    ``"kg"`` -> ``kg``, ``"No."`` -> ``no``, ``"doz."`` -> ``doz``, ``"liters"`` -> ``liter``,
    ``"m²"`` -> ``m2``, ``"Pb kg"`` -> ``kg:Pb``, ``"kg ttl sug"`` -> ``kg:total_sugars``. Keys are returned
    unchanged.
    Raises InputError (field ``unit``) for a spelling it does not know, and for two units in one text
    (``"No. and kg"``: use ``normalize_units``).
    """
    if not isinstance(text, str):
        raise InputError("unit", text, "a unit must be text")
    raw = " ".join(text.replace("<sup>", "").replace("</sup>", "").split())
    key = _check_key(raw)
    if key is not None:
        return key
    m = _ELEMENT_UNIT.match(raw)
    if m and (m.group(1) in _SYMBOL_NAMES or m.group(1) in _COMPOUNDS):
        return f"{m.group(2)}:{m.group(1)}"
    low = raw.lower()
    if low in _SPELLINGS:
        return _SPELLINGS[low]
    if " and " in low:
        raise InputError("unit", text, "names more than one unit", "use normalize_units for such texts")
    raise InputError("unit", text, "unknown unit", "e.g. kg, liter, No., doz., m2, t, kg:Pb, value:case")


def normalize_units(text: str) -> tuple[str, ...]:
    """Like ``normalize_unit`` for texts naming several units (``"No. and kg"`` -> ``("no", "kg")``)."""
    parts = [p for p in re.split(r"\s+and\s+", text.strip()) if p]
    return tuple(normalize_unit(p) for p in parts)


def unit_label(key: str) -> str:
    """Readable label of a key: ``kg`` -> ``kg``; ``kg:Pb`` -> ``kg of lead content``; ``value:case`` ->
    ``value of the case``."""
    if key.startswith("value:"):
        part = key[6:].replace("_", " ")
        return f"value of the {part}"
    base, _, qual = key.partition(":")
    label = BASE_LABELS.get(base, base)
    if not qual:
        return label
    if qual in _SYMBOL_NAMES:
        return f"{label} of {_SYMBOL_NAMES[qual]} content"
    if qual in _COMPOUNDS:
        return f"{label} of {qual} content"
    return f"{label} of {QUALIFIER_LABELS.get(qual, qual)}"


def need_text(key: str) -> str:
    """The ``needs`` entry for a missing key: ``quantity in kg``; ``quantity in kg of lead content (kg:Pb)``;
    ``value of the case (value:case)``."""
    label = unit_label(key)
    if key.startswith("value:"):
        return f"{label} ({key})"
    if label == key:
        return f"quantity in {key}"
    return f"quantity in {label} ({key})"


def convert(key: str, quantities: dict[str, Decimal]) -> tuple[Decimal, str] | None:
    """Find ``key`` in ``quantities`` or convert another unit of the same dimension and qualifier to it.

    Returns (quantity in ``key``, note) where note is "" for a direct hit and e.g. ``"0.12 t x 1,000"`` for a
    conversion; None when nothing usable is there.
    """
    if key in quantities:
        return quantities[key], ""
    base, sep, qual = key.partition(":")
    if base not in _FACTORS:
        return None
    dim, factor = _FACTORS[base]
    for other, (odim, ofactor) in _FACTORS.items():
        if odim != dim or other == base:
            continue
        okey = f"{other}{sep}{qual}"
        if okey in quantities:
            q = quantities[okey]
            ratio = ofactor / factor
            if ratio >= 1:
                note = f"{fmt_qty(q)} {unit_label(okey)} x {fmt_qty(ratio)}"
            else:
                note = f"{fmt_qty(q)} {unit_label(okey)} / {fmt_qty(1 / ratio)}"
            # multiply before dividing so that 120 No. is exactly 10 doz.
            return q * ofactor / factor, note
    return None


def fmt_qty(q: Decimal) -> str:
    """A quantity without trailing zeros and with thousands separators: 1200.50 -> 1,200.5."""
    n = q.normalize()
    if n == n.to_integral_value():
        n = n.quantize(Decimal(1))
    return f"{n:,f}"
