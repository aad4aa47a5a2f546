"""Screenshot of the browser viewer showing motion files, for the README (headless Chromium via Playwright).

    python tools/screenshot_viewer.py out/demo/motion.json [more.json ...] --frame 300 --out docs/img/viewer.png
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from syncmotion.viewer import serve


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--frame", default=0, show_default=True, help="Frame to show.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/img/viewer.png"), show_default=True)
@click.option("--width", default=1280, show_default=True)
@click.option("--height", default=760, show_default=True)
def main(paths: tuple[Path, ...], frame: int, out: Path, width: int, height: int) -> None:
    """Open PATHS in the viewer, go to FRAME and save a screenshot."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise click.ClickException("no chromium found; install Debian's chromium (apt-get install chromium)")
    server, url = serve(list(paths))
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chromium, args=["--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            page.wait_for_function("window.syncmotionViewer && window.syncmotionViewer.ready", timeout=30000)
            page.evaluate(f"window.syncmotionViewer.setFrame({frame})")
            page.wait_for_timeout(500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        server.shutdown()
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
