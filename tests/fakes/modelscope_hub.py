"""A stand-in for ModelScope's hub on loopback: real HTTP, the endpoints ``modelscope`` calls
to fetch one file of a dataset repository and to list the repository's files.

- ``modelscope.hub.file_download.dataset_file_download(id, path)`` asks
  ``GET /api/v1/datasets/<owner>/<name>/repo?Revision=master&FilePath=<path>`` for the bytes
  (and first ``GET /api/v1/repos/internalAccelerationInfo``, which may fail).
- ``HubApi().get_dataset_files(id, …)`` asks ``GET /api/v1/datasets/<owner>/<name>`` for the
  dataset's hub id (``Data.Id``, a number, and ``Data.Type``), then
  ``GET /api/v1/datasets/<hub id>/repo/tree?Revision=…&Root=/&Recursive=True&PageNumber=N&
  PageSize=M`` for one page of the tree: ``Data.Files``, a list of entries with ``Path``,
  ``Name``, ``Type`` (``blob`` for a file, ``tree`` for a folder), ``Size`` and ``Sha256``,
  folders listed beside their files. The tree is also served under ``<owner>/<name>``, as
  the newer paginated listing asks for it.

Every answer has the hub's JSON envelope (``Code``, ``Data``, ``Message``, ``RequestId``,
``Success``). Point the package at it with ``MODELSCOPE_ENDPOINT=<url>``. Anything it does not
hold answers 404 with the hub's JSON error body. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any

__all__ = ["FakeModelScopeHub"]

#: The hub id of the first dataset served (the rest count up, in the order of their ids).
FIRST_HUB_ID = 10_001


class FakeModelScopeHub:
    """Serves ``files[(dataset_id, file_path)] = bytes``; ``requests`` lists (method, path)."""

    def __init__(self, files: dict[tuple[str, str], bytes]) -> None:
        self.files = dict(files)
        self.requests: list[tuple[str, str]] = []
        datasets = sorted({dataset for dataset, _ in self.files})
        #: The hub's numeric id of each dataset it holds.
        self.hub_ids = {d: str(FIRST_HUB_ID + i) for i, d in enumerate(datasets)}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, data: Any) -> None:
                body = {
                    "Code": 200,
                    "Data": data,
                    "Message": "success",
                    "RequestId": "fake",
                    "Success": True,
                }
                self._send(200, json.dumps(body).encode(), "application/json")

            def _answer(self) -> None:
                hub.requests.append((self.command, self.path))
                url = urllib.parse.urlsplit(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                parts = url.path.strip("/").split("/")
                if parts[:3] == ["api", "v1", "datasets"]:
                    rest = parts[3:]
                    # <owner>/<name>/repo?FilePath=…: one file's bytes
                    if len(rest) == 3 and rest[2] == "repo":
                        body = hub.files.get((f"{rest[0]}/{rest[1]}", query.get("FilePath", "")))
                        if body is not None:
                            return self._send(200, body, "application/octet-stream")
                    # <owner>/<name>: the dataset's description, with its hub id
                    elif len(rest) == 2 and f"{rest[0]}/{rest[1]}" in hub.hub_ids:
                        dataset = f"{rest[0]}/{rest[1]}"
                        return self._json(
                            {
                                "Id": int(hub.hub_ids[dataset]),
                                "Type": 0,
                                "Namespace": rest[0],
                                "Name": rest[1],
                            }
                        )
                    # <hub id>/repo/tree or <owner>/<name>/repo/tree: a page of the file tree
                    elif rest[-2:] == ["repo", "tree"] and len(rest) in (3, 4):
                        named = hub.dataset_of("/".join(rest[:-2]))
                        if named is not None:
                            return self._json({"Files": hub.tree_page(named, query)})
                error = {"Code": 404, "Message": "not found", "RequestId": "fake", "Success": False}
                self._send(404, json.dumps(error).encode(), "application/json")

            do_GET = do_HEAD = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def dataset_of(self, key: str) -> str | None:
        """The dataset a tree request names, by hub id or ``owner/name``."""
        if key in self.hub_ids:
            return key
        return next((d for d, i in self.hub_ids.items() if i == key), None)

    def tree(self, dataset: str) -> list[dict[str, Any]]:
        """Every entry of the dataset's tree, folders first, as the hub describes them."""
        folders: set[str] = set()
        blobs = []
        for (d, path), body in sorted(self.files.items()):
            if d != dataset:
                continue
            folders.update(str(p) for p in PurePosixPath(path).parents if str(p) != ".")
            blobs.append(
                {
                    "Name": PurePosixPath(path).name,
                    "Path": path,
                    "Type": "blob",
                    "Size": len(body),
                    "Sha256": hashlib.sha256(body).hexdigest(),
                    "IsLFS": path.endswith(".parquet"),
                    "Mode": "100644",
                    "Revision": "fake",
                }
            )
        trees = [
            {"Name": PurePosixPath(f).name, "Path": f, "Type": "tree", "Size": 0, "Mode": "040000"}
            for f in sorted(folders)
        ]
        return trees + blobs

    def tree_page(self, dataset: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """The entries under ``Root`` (all of them when ``Recursive`` is True, else its direct
        children), page ``PageNumber`` of ``PageSize`` (all when not asked for pages)."""
        root = query.get("Root", "/").strip("/")
        entries = [e for e in self.tree(dataset) if not root or e["Path"].startswith(root + "/")]
        if query.get("Recursive", "True").lower() != "true":
            depth = root.count("/") + 1 if root else 0
            entries = [e for e in entries if e["Path"].count("/") == depth]
        if "PageSize" in query:
            size = int(query["PageSize"])
            start = (int(query.get("PageNumber", "1")) - 1) * size
            entries = entries[start : start + size]
        return entries

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def file_requests(self) -> list[str]:
        """The dataset files asked for, in order."""
        return [p for m, p in self.requests if "/repo?" in p]

    def listing_requests(self) -> list[str]:
        """The tree listings asked for, in order."""
        return [p for m, p in self.requests if "/repo/tree" in p]

    def __enter__(self) -> FakeModelScopeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
