"""Registry of the reference datasets the program needs.

Each dataset names where it sits in a mirror laid out like the project's reference-data folder, the files
it must contain, its licence and vintage, and where one exists the official download address. Nothing here is
third-party data: only where to find it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    folder: str  # relative path inside the mirror
    patterns: tuple[str, ...]  # glob patterns (relative to folder) of the files to take
    required: tuple[str, ...]  # files (relative to folder) that must be present
    licence: str
    vintage: str
    official_url: str | None = None  # where the publisher serves it (a pattern for per-revision files)
    min_files: int = 1


HTS_REVISION_URL = "https://www.usitc.gov/sites/default/files/tata/hts/hts_{year}_revision_{rev}_json.json"
HTS_BASIC_URL = "https://www.usitc.gov/sites/default/files/tata/hts/hts_{year}_basic_edition_json.json"

DATASETS: tuple[Dataset, ...] = (
    Dataset(
        name="hts-revisions",
        description="HTSUS as exported by USITC (JSON), one file per published revision",
        folder="hts",
        patterns=("revisions/hts_*.json.gz", "SOURCE.md", "LICENSE"),
        required=("revisions/hts_2025_basic.json.gz",),
        licence="US government work (USITC); mirror repository MIT",
        vintage="2025 Basic to 2026 Rev 10",
        official_url=HTS_REVISION_URL,
        min_files=2,
    ),
    Dataset(
        name="hts-revision-dates",
        description="Effective date of each HTS revision (with a curator's policy annotations)",
        folder="hts",
        patterns=("revision_dates.csv",),
        required=("revision_dates.csv",),
        licence="MIT (The Budget Lab at Yale)",
        vintage="2025-01-01 to 2026-06-08",
    ),
    Dataset(
        name="hts-chapter99-notes",
        description="HTSUS Chapter 99 U.S. notes (plain text) and per-revision floor-exemption lists",
        folder="hts",
        patterns=("notes/*.txt.gz", "notes/floor_exempt/*.csv"),
        required=("notes/chapter99_2026_rev_6.txt.gz",),
        licence="US government work (USITC); extraction MIT",
        vintage="2026 Rev 6",
        official_url="https://hts.usitc.gov/reststop/file?release=currentRelease&filename=Chapter%2099",
    ),
    Dataset(
        name="tariff-actions",
        description="Chapter 99 tariff actions: dated headline rates, Federal Register sources, product scopes",
        folder="tariff-actions",
        patterns=(
            "master_tariff_list.json",
            "federal_register_sources.csv",
            "policy_params.yaml",
            "s232_annexes_text.txt",
            "product_scopes/*",
            "tariff_rates/*.json.gz",
            "docs/*",
            "SOURCE.md",
            "LICENSE",
        ),
        required=("master_tariff_list.json", "federal_register_sources.csv", "product_scopes/s301_product_lists.csv"),
        licence="MIT (The Budget Lab at Yale); legal texts are US government works",
        vintage="actions 2018-03-23 to 2026-06-08 (+ scheduled 2026-09-29, 2026-11-10)",
    ),
    Dataset(
        name="trade-flows",
        description="US imports from Canada and Mexico by HTS10 with the USMCA-claimed share",
        folder="trade-flows",
        patterns=("*.csv", "*.csv.gz", "usmca_product_shares_monthly/*", "SOURCE.md", "LICENSE"),
        required=("usmca_product_shares_2025.csv",),
        licence="MIT; underlying data USITC / Census Bureau",
        vintage="annual 2024 and 2025; monthly 2025-01 to 2026-02",
        official_url="https://dataweb.usitc.gov/",
    ),
    Dataset(
        name="hs-nomenclature",
        description="HS 2022 six-digit nomenclature and sections",
        folder="hs/harmonized-system",
        patterns=("*.csv", "datapackage.json", "SOURCE.md", "LICENSE.md"),
        required=("harmonized-system.csv",),
        licence="ODC-PDDL-1.0",
        vintage="HS 2022",
        official_url="https://unstats.un.org/unsd/classifications/Econ",
    ),
    Dataset(
        name="hs-correlations",
        description="UNSD HS 2022 -> HS 2017 and HS 2012 correlation tables; NAICS titles",
        folder="hs/concordance",
        patterns=("*.csv", "SOURCE.md", "LICENSE.md"),
        required=("HS2022toHS2017_correlations.csv", "HS2022toHS2012_correlations.csv"),
        licence="MIT (concordance); UNSD tables",
        vintage="HS 2022 / 2017 / 2012",
        official_url="https://unstats.un.org/unsd/classifications/Econ",
    ),
    Dataset(
        name="cusma-regulations",
        description="CUSMA Rules of Origin Regulations (SOR/2020-155), plain text",
        folder="usmca",
        patterns=("cusma-rules-of-origin-regulations.txt", "LICENSE-cusma-regulations.txt", "SOURCE.md"),
        required=("cusma-rules-of-origin-regulations.txt",),
        licence="Open Government Licence - Canada",
        vintage="consolidated to 2025-07-25",
        official_url="https://laws-lois.justice.gc.ca/eng/XML/SOR-2020-155.xml",
    ),
    Dataset(
        name="gn11o",
        description="HTSUS General Note 11(o) product-specific rules, one text file per chapter (transcription)",
        folder="usmca/gn11o",
        patterns=("chapter-*.txt", "supplement-*.txt", "MANIFEST.md"),
        required=("MANIFEST.md", "chapter-01.txt", "chapter-94.txt"),
        licence="US government work (public domain); third-party transcription",
        vintage="as quoted: 2026 HTS Rev 15 (parts in HS 2017 nomenclature; see MANIFEST.md)",
        official_url="https://hts.usitc.gov/reststop/file?release=currentRelease&filename=General%20Note%2011",
        min_files=3,
    ),
)


def dataset(name: str) -> Dataset:
    for d in DATASETS:
        if d.name == name:
            return d
    known = ", ".join(d.name for d in DATASETS)
    raise KeyError(f"unknown dataset {name!r}; known: {known}")
