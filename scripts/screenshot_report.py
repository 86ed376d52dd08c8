"""Render a campaign's report.html in headless Chromium and save a screenshot.

    python scripts/screenshot_report.py campaign-out/report.html report.png

Needs Debian's `chromium` (apt-get install chromium).  Prints the screenshot's size.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys


def main(argv=None) -> int:
    args = argv or sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    page, png = pathlib.Path(args[0]).resolve(), pathlib.Path(args[1]).resolve()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("screenshot_report: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={png}", "--window-size=1280,1300", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    if not png.exists():
        print("screenshot_report: chromium wrote no screenshot", file=sys.stderr)
        return 1
    print(f"{png}: {png.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
