"""End to end in headless Chromium: the scenarios list, one scenario, and a comparison on a small portfolio
started from the page by an analyst. Same server fixture and skips as test_e2e.py; with
USMCA_SCREENSHOTS=DIR the comparison's screenshot is kept as DIR/scenarios.png (docs/screenshots/ in the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.scenarios.conftest import SPECTACLES, SPECTACLES_BOM, write_pf

from .test_e2e import CHROMIUM, server  # noqa: F401  (the fixture: `usmca serve` on a throwaway database)

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


def test_scenarios_list_and_comparison(server: str, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("USMCA_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    pp, bp = write_pf(tmp_path, SPECTACLES, SPECTACLES_BOM)
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(f"{server}/")
        page.click("header nav a:has-text('Scenarios')")
        page.wait_for_url(f"{server}/scenarios")
        assert "Joint-review scenarios" in page.content()
        page.click("a[href='/scenarios/autos-85']")
        page.wait_for_selector("text=Macro assumptions")
        assert "rules/vehicle_rvc" in page.content()

        page.goto(f"{server}/login")
        page.fill("input[name=username]", "ana")
        page.fill("input[name=password]", "ana-password-long")
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{server}/")

        page.goto(f"{server}/scenarios/compare")
        page.set_input_files("input[name=products]", str(pp))
        page.set_input_files("input[name=bom]", str(bp))
        page.fill("input[name=date]", "2026-11-01")
        page.check("input[value='china-content-cap']")
        page.check("input[value='autos-85']")
        page.click("button:has-text('Compare')")
        page.wait_for_selector("text=Cheapest change that restores qualification", timeout=180_000)
        html = page.content()
        assert "1 SKU(s) flip" in html and "SPEC-1" in html and "<svg" in html
        page.screenshot(path=str(shots / "scenarios.png"), full_page=True)
        browser.close()
    assert not errors, errors
