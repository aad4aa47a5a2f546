"""A local web server for the viewer in viz/ and the motion files it shows (127.0.0.1 only).

JSON and glTF files go to the page as they are (the page reads glTF with three.js's GLTFLoader); results.npy and
BVH files are read here and sent as JSON documents.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote

from .files import read_manifest, running_writer, set_files
from .resources import resource_dir

# What the page is sent for each kind of file it opens, by suffix.
CONTENT_TYPES = {".json": "application/json", ".glb": "model/gltf-binary", ".gltf": "model/gltf+json"}
VIEWABLE = (".json", ".glb", ".gltf", ".npy", ".bvh")
# A folder shows one kind of file, the first of these it holds: a run's formats are the same motion several times.
FOLDER_KINDS = (".json", ".glb", ".gltf", ".npy")


def _folder_motions(folder: Path) -> list[Path]:
    """A folder's motion files of the first kind in FOLDER_KINDS: those its run manifest lists and vouches for, else visible ones."""
    if read_manifest(folder) is not None:
        for suffix in FOLDER_KINDS:
            listed = set_files(folder, suffix)
            if listed:
                return listed
        return []
    # Hidden files are other programs' business, or temporaries of a run killed half-way: never motions to show.
    visible = [path for path in sorted(folder.iterdir()) if not path.name.startswith(".")]
    for suffix in FOLDER_KINDS:
        found = [path for path in visible if path.suffix == suffix]
        if found:
            return found
    return []


def motion_files(paths: list[Path]) -> list[Path]:
    """The motion files named by `paths`: files as given, folders as their *.json (or results.npy when none)."""
    found: list[Path] = []
    for path in paths:
        writer = None if path.is_file() else running_writer(path)
        if writer is not None:
            raise ValueError(f"{path} is being written by a running syncmotion run{f' (pid {writer})' if writer else ''}; "
                             "open it when that run has finished")
        if path.is_dir():
            inside = _folder_motions(path)
            if not inside:
                raise FileNotFoundError(f"{path} has no motion files (*.json, *.glb, *.gltf or results.npy); run `syncmotion motion` "
                                        "first")
            found.extend(inside)
        elif path.is_file():
            if path.suffix.lower() not in VIEWABLE:
                raise ValueError(f"{path} is not a motion file: the viewer opens .json, .glb/.gltf and .bvh exports and MDM "
                                 "results .npy")
            found.append(path)
        else:
            raise FileNotFoundError(f"no motion file or folder at {path}")
    return found


def _documents(files: list[Path]) -> dict[str, bytes]:
    """URL name -> file bytes; results.npy and BVH files become JSON documents (one per motion a results.npy holds)."""
    from .motion.io import load_motion, motion_to_dict

    served: dict[str, bytes] = {}
    names = [path.name for path in files]
    for index, path in enumerate(files):
        # The page labels panels with these names: keep the file's own name unless two files share it.
        name = path.name if names.count(path.name) == 1 else f"{index:02d}-{path.name}"
        if path.suffix.lower() in CONTENT_TYPES:
            served[name] = path.read_bytes()
            continue
        loaded = load_motion(path)
        if isinstance(loaded, list):
            for number, motion in enumerate(loaded):
                served[f"{Path(name).stem}-{number:02d}.json"] = json.dumps(motion_to_dict(motion)).encode()
        else:
            served[f"{name}.json"] = json.dumps(motion_to_dict(loaded)).encode()
    return served


class _Handler(SimpleHTTPRequestHandler):
    """Static files from viz/, plus /motion/NAME from memory."""

    def __init__(self, *args, documents: dict[str, bytes], **kwargs) -> None:
        self.documents = documents
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Serve a motion document or a static file."""
        if self.path.startswith("/motion/"):
            name = unquote(self.path[len("/motion/"):].split("?")[0])
            body = self.documents.get(name)
            if body is None:
                self.send_error(404, "no such motion")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES.get(Path(name).suffix.lower(), "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args) -> None:
        """Stay quiet: the terminal shows the address and nothing else."""


def serve(paths: list[Path], port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start serving viz/ and the motions in a background thread; returns the server and the viewer's URL."""
    documents = _documents(motion_files(paths))
    handler = partial(_Handler, directory=str(resource_dir("viz")), documents=documents)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    query = "&".join(f"src=/motion/{quote(name)}" for name in documents)
    return server, f"http://127.0.0.1:{server.server_address[1]}/index.html?{query}"
