"""End to end in headless Chromium (Debian's `chromium`, driven by Playwright): sign in, browse the tariff,
calculate duty, check and record origin, open the history. Skipped when Chromium or Playwright is absent.
With USMCA_SCREENSHOTS=DIR a screenshot of each page is kept in DIR (docs/screenshots/ in the repo)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, conn: sqlite3.Connection) -> Iterator[str]:
    import httpx

    from usmca.app import records
    from usmca.app.db import Database

    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'app.sqlite'}"
    db = Database(url)
    with db.session() as s:
        records.create_user(s, "ana", "ana-password-long", "analyst", actor="test")
    db.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "USMCA_DB": url, "USMCA_SECRET": "e2e-secret"}
    exe = Path(sys.executable).with_name("usmca")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_click_through_every_page(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("USMCA_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(f"{server}/")
        assert "Tariff browser" in page.content()
        page.screenshot(path=str(shots / "home.png"), full_page=True)

        page.goto(f"{server}/login")
        page.fill("input[name=username]", "ana")
        page.fill("input[name=password]", "ana-password-long")
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{server}/")
        assert "ana (analyst)" in page.content()

        page.goto(f"{server}/hts")
        page.fill("input[name=q]", "seats")
        page.fill("input[name=as_of]", "2025-08-15")
        page.click("button:has-text('Search')")
        page.wait_for_selector("table td.mono a")
        page.screenshot(path=str(shots / "hts-search.png"), full_page=True)
        page.goto(f"{server}/hts/9401.61.4011?as_of=2025-08-15")
        assert "History" in page.content()
        page.screenshot(path=str(shots / "hts-line.png"), full_page=True)

        page.goto(f"{server}/duty")
        page.fill("input[name=entry_date]", "2025-08-15")
        page.fill("input[name=hts]", "9401.61.4011")
        page.fill("input[name=country_of_origin]", "CA")
        page.fill("input[name=entered_value]", "10000")
        page.click("button:has-text('Calculate')")
        page.wait_for_selector("text=Without USMCA claim")
        page.screenshot(path=str(shots / "duty.png"), full_page=True)

        page.goto(f"{server}/origin")
        page.check("input[name=record]")
        page.click("button:has-text('Check origin')")
        page.wait_for_selector("text=Recorded as")
        assert "originating" in page.content()
        page.screenshot(path=str(shots / "origin.png"), full_page=True)
        page.click("main a[href^='/determinations/']")
        page.wait_for_selector("text=inputs hash")
        page.screenshot(path=str(shots / "determination.png"), full_page=True)

        page.goto(f"{server}/portfolio")
        products = (
            b"sku,hts,description,country_of_production,transaction_value\n"
            b"SKU-CHAIR,9401.61.4011,chair,MX,100\n"
        )
        bom = (
            b"parent_sku,component_id,description,component_hts,quantity_per,value,origin\n"
            b"SKU-CHAIR,m1,lumber,4407.11,1,30,non_originating\n"
        )
        page.set_input_files(
            "input[name=products]", {"name": "p.csv", "mimeType": "text/csv", "buffer": products}
        )
        page.set_input_files("input[name=bom]", {"name": "b.csv", "mimeType": "text/csv", "buffer": bom})
        page.fill("input[name=date]", "2026-03-01")
        page.click("button:has-text('Run')")
        page.wait_for_selector("text=Most at risk", timeout=120_000)
        page.screenshot(path=str(shots / "portfolio-run.png"), full_page=True)
        page.goto(f"{server}/portfolio")
        page.screenshot(path=str(shots / "portfolio.png"), full_page=True)

        page.goto(f"{server}/determinations")
        assert "SKU-1001" in page.content()
        page.screenshot(path=str(shots / "determinations.png"), full_page=True)
        browser.close()
    assert not errors, errors
    assert len(list(shots.glob("*.png"))) >= 9
