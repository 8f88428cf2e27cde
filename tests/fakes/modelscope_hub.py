"""A stand-in for ModelScope's hub on loopback: real HTTP, the endpoints ``modelscope`` calls
to fetch one file of a dataset repository.

``modelscope.hub.file_download.dataset_file_download(id, path)`` asks
``GET /api/v1/datasets/<owner>/<name>/repo?Revision=master&FilePath=<path>`` for the bytes (and
first ``GET /api/v1/repos/internalAccelerationInfo``, which may fail). Point the package at it
with ``MODELSCOPE_ENDPOINT=<url>``. Anything it does not hold answers 404 with the hub's JSON
error body. Standard library only.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeModelScopeHub"]


class FakeModelScopeHub:
    """Serves ``files[(dataset_id, file_path)] = bytes``; ``requests`` lists (method, path)."""

    def __init__(self, files: dict[tuple[str, str], bytes]) -> None:
        self.files = dict(files)
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self) -> None:
                hub.requests.append((self.command, self.path))
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                parts = url.path.strip("/").split("/")
                # api / v1 / datasets / owner / name / repo
                if (
                    len(parts) == 6
                    and parts[:3] == ["api", "v1", "datasets"]
                    and parts[5] == "repo"
                ):
                    body = hub.files.get((f"{parts[3]}/{parts[4]}", query.get("FilePath", [""])[0]))
                    if body is not None:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        if self.command != "HEAD":
                            self.wfile.write(body)
                        return
                error = json.dumps({"Code": 404, "Message": "not found", "Success": False}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(error)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(error)

            do_GET = do_HEAD = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def file_requests(self) -> list[str]:
        """The dataset files asked for, in order."""
        return [p for m, p in self.requests if "/api/v1/datasets/" in p]

    def __enter__(self) -> FakeModelScopeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
