"""The HTML report renders in a real browser (headless Chromium) with every chart drawn."""

import re
import shutil
import struct
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def _png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_report_renders_every_chart(cli, trained_db_url, tmp_path):
    assert cli("score").code == 0
    res = cli("report", "--out", tmp_path / "rep", "--json")
    assert res.code == 0, res.err
    page = tmp_path / "rep" / "report.html"
    url = page.as_uri()
    dom = subprocess.run([CHROMIUM, *FLAGS, "--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    expected = int(re.search(r'data-charts="(\d+)"', dom).group(1))
    drawn = re.search(r'data-charts-drawn="(\d+)"', dom)
    assert drawn, "the page's load handler did not run"
    assert expected == 7 and int(drawn.group(1)) == expected
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, "--window-size=1200,3800", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    assert _png_size(shot) == (1200, 3800)
    assert shot.stat().st_size > 60_000, "a blank page compresses to a few KB"
