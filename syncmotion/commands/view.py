"""`syncmotion view`: watch, scrub and compare exported motions in the browser."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True, help="0 picks a free port.")
@click.option("--no-browser", is_flag=True, help="Only print the address.")
def view(paths: tuple[Path, ...], port: int, no_browser: bool) -> None:
    """Serve the viewer for PATHS (motion .json/.glb/.gltf/.bvh/results .npy files, or output folders) on 127.0.0.1."""
    from syncmotion.viewer import serve

    try:
        server, url = serve(list(paths), port)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot listen on port {port}: {error.strerror}; try --port 0") from None
    click.echo(f"viewer at {url}\n(Ctrl-C to stop)")
    if not no_browser:
        webbrowser.open(url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
