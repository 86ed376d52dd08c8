"""Render a campaign's report.html in headless Chromium and save a screenshot.

    python scripts/screenshot_report.py campaign-out/report.html report.png [HEIGHT]

HEIGHT: the window's height in pixels (default 1300; the page is 1280 wide), to take in the
plots below a long findings table.  Needs Debian's `chromium` (apt-get install chromium; ./dev.sh
installs it).  Prints the screenshot's size.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) not in (2, 3) or (len(args) == 3 and not args[2].isdigit()):
        print(__doc__, file=sys.stderr)
        return 2
    page, png = pathlib.Path(args[0]).resolve(), pathlib.Path(args[1]).resolve()
    height = int(args[2]) if len(args) == 3 else 1300
    exe = browser()
    if exe is None:
        print("screenshot_report: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    if not page.is_file():
        print(f"screenshot_report: {page}: no such file", file=sys.stderr)
        return 2
    png.unlink(missing_ok=True)
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", f"--window-size=1280,{height}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    if not png.exists():
        print("screenshot_report: chromium wrote no screenshot", file=sys.stderr)
        return 1
    print(f"{png}: {png.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
