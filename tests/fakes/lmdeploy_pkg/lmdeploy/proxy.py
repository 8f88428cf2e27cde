"""Stand-in for ``lmdeploy serve proxy`` (lmdeploy/serve/proxy/proxy.py, LMDeploy 0.16-0.18).

The real proxy's HTTP interface, kept as it is:

- ``GET /v1/models``: the models of every registered node (key required when ``--api-keys``).
- ``POST /v1/chat/completions``: checked against the model list (404 error body when no node
  serves it), sent to one node by the routing strategy, the client's request forwarded with its
  headers (``Authorization`` included), a stream passed on line by line; a node that fails
  mid-stream ends the stream with ``{"error_code": 10402, ...}`` (the real ``handle_api_timeout``).
  The node is not dropped for it: only the heart-beat check does that.
- ``GET /nodes/status``: ``{url: {"models", "unfinished", "latency", "speed", "role"}}``.
- ``POST /nodes/add`` ``{"url", "status"?}``: a status with models registers at once; without
  one the proxy asks the node's ``/v1/models`` itself, with no key.
- ``POST /nodes/remove`` ``{"url"}``.
- The key check is LMDeploy's ``AuthenticationMiddleware`` (the stand-in's, in
  ``lmdeploy.serve.utils.server_utils``): it skips ``/nodes``, ``/health``, ``/docs``.
- Every ``LMDEPLOY_CONTROLLER_HEART_BEAT_EXPIRATION`` seconds (90) nodes whose ``/health`` does
  not answer 200 are removed.
- Routing ``min_expected_latency`` (default): the node with the fewest unfinished requests per
  unit of speed, ties broken at random; ``random``: weighted by speed.

Log lines as the real one prints them (LMDeploy's logger at INFO, then uvicorn's).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

API_TIMEOUT = {
    "error_code": 10402,
    "text": "Failed to get response after a period of time",
}
MODEL_NOT_FOUND = {
    "error_code": 10400,
    "text": "The request model name does not exist in the model list.",
}


def add_parser(serve_sub: Any) -> None:
    """``serve proxy``'s arguments, as lmdeploy/cli/serve.py declares them."""
    proxy = serve_sub.add_parser("proxy")
    proxy.add_argument("--server-name", default="0.0.0.0")
    proxy.add_argument("--server-port", type=int, default=8000)
    proxy.add_argument("--serving-strategy", choices=["Hybrid", "DistServe"], default="Hybrid")
    proxy.add_argument(
        "--routing-strategy",
        choices=["random", "min_expected_latency", "min_observed_latency"],
        default="min_expected_latency",
    )
    proxy.add_argument("--disable-cache-status", action="store_true")
    proxy.add_argument("--dummy-prefill", action="store_true")
    proxy.add_argument("--api-keys", nargs="*", default=None)
    proxy.add_argument("--ssl", action="store_true")
    proxy.add_argument("--log-level", default="ERROR")


def _log(level: str, where: str, message: str) -> None:
    from lmdeploy.cli import say

    say(f"2026-11-01 10:00:00,000 - lmdeploy - {level} - {where} - {message}")


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request(method, parts.path or "/", body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def register_to_proxy(proxy_url: str, url: str, models: list[str]) -> None:
    """What the real api_server does at start-up with ``--proxy-url`` (no key is sent)."""
    data = json.dumps({"url": url, "status": {"models": models, "role": 1}}).encode()
    try:
        status, text = _http(
            "POST",
            proxy_url.rstrip("/") + "/nodes/add",
            data,
            {"Content-Type": "application/json", "accept": "application/json"},
        )
        if status != 200:
            raise RuntimeError(f"{status}: {text.decode('utf-8', 'replace')}")
    except Exception as err:  # noqa: BLE001 - the real one logs and serves on
        _log("ERROR", "api_server.py:141", f"Service registration failed: {err}")


class Nodes:
    """The real ``NodeManager``: nodes, their unfinished counts, and the routing."""

    def __init__(self, strategy: str) -> None:
        self.strategy = strategy
        self.nodes: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def add(self, url: str, status: dict[str, Any] | None) -> dict[str, Any] | None:
        status = dict(status or {})
        if not status.get("models"):
            try:  # the real proxy asks the node through its APIClient, with no key
                code, body = _http("GET", url.rstrip("/") + "/v1/models")
                if code != 200:
                    raise RuntimeError(f"HTTP {code}")
                status["models"] = [m["id"] for m in json.loads(body)["data"]]
            except Exception as err:  # noqa: BLE001
                _log("ERROR", "proxy.py:176", f"exception happened when adding node {url}, {err}")
                return API_TIMEOUT
        status = {"role": 1, "unfinished": 0, "latency": [], "speed": None, **status}
        with self.lock:
            self.nodes[url] = status
        return None

    def remove(self, url: str) -> None:
        with self.lock:
            self.nodes.pop(url, None)

    def models(self) -> list[str]:
        with self.lock:
            return [m for status in self.nodes.values() for m in status["models"]]

    def pick(self, model: str) -> str | None:
        with self.lock:
            urls = [u for u, s in self.nodes.items() if model in s["models"]]
            if not urls:
                return None
            speeds = [self.nodes[u]["speed"] or 1 for u in urls]
            if self.strategy == "random":
                return random.choices(urls, weights=speeds)[0]
            order = list(range(len(urls)))
            random.shuffle(order)
            best = min(order, key=lambda i: self.nodes[urls[i]]["unfinished"] / speeds[i])
            url = urls[best]
            self.nodes[url]["unfinished"] += 1
            return url

    def done(self, url: str, started: float) -> None:
        with self.lock:
            if url in self.nodes:
                self.nodes[url]["unfinished"] -= 1
                self.nodes[url]["latency"] = (self.nodes[url]["latency"] + [time.time() - started])[
                    -15:
                ]

    def heart_beat(self, every_s: float) -> None:
        while True:
            time.sleep(every_s)
            _log("INFO", "proxy.py:67", "Start heart beat check")
            with self.lock:
                urls = list(self.nodes)
            for url in urls:
                try:
                    ok = _http("GET", url.rstrip("/") + "/health")[0] == 200
                except OSError:
                    ok = False
                if not ok:
                    self.remove(url)
                    _log(
                        "INFO",
                        "proxy.py:234",
                        f"Removed node_url: {url} due to heart beat expiration",
                    )


def _handler(nodes: Nodes, keys: list[str]) -> type[BaseHTTPRequestHandler]:
    from lmdeploy.serve.utils.server_utils import AuthenticationMiddleware

    # As the real proxy does: the middleware only when keys are given.
    auth = AuthenticationMiddleware(None, keys) if keys else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self, path: str) -> bool:
            if auth is None or auth.allows(path, self.headers):
                return True
            self._json(
                401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}}
            )
            return False

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0].rstrip("/")
            if not self._authorized(path):
                return
            if path == "/v1/models":
                data = [{"id": m, "object": "model", "root": m} for m in nodes.models()]
                self._json(200, {"object": "list", "data": data})
            elif path == "/nodes/status":
                with nodes.lock:
                    self._json(200, dict(nodes.nodes))
            else:
                self._json(404, {"detail": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0].rstrip("/")
            raw = self._body()
            if not self._authorized(path):
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"detail": "body is not JSON"})
                return
            if path == "/nodes/add":
                failed = nodes.add(str(body.get("url")), body.get("status"))
                if failed is not None:
                    _log("ERROR", "proxy.py:505", f"add node {body.get('url')} failed, {failed}")
                    self._json(200, failed)
                else:
                    _log("INFO", "proxy.py:507", f"add node {body.get('url')} successfully")
                    self._json(200, "Added successfully")
            elif path == "/nodes/remove":
                nodes.remove(str(body.get("url")))
                _log("INFO", "proxy.py:519", f"delete node {body.get('url')} successfully")
                self._json(200, "Deleted successfully")
            elif path == "/v1/chat/completions":
                self._chat(body, raw)
            else:
                self._json(404, {"detail": "Not Found"})

        def _chat(self, body: dict[str, Any], raw: bytes) -> None:
            model = body.get("model")
            if model not in nodes.models():
                self._json(404, {"error": {"message": f"The model {model!r} does not exist."}})
                return
            url = nodes.pick(str(model))
            if url is None:
                self._json(200, MODEL_NOT_FOUND)
                return
            _log("INFO", "proxy.py:664", f"A request is dispatched to {url}")
            started = time.time()
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            parts = urlsplit(url)
            try:
                self._forward(
                    parts.hostname or "", parts.port or 80, headers, raw, bool(body.get("stream"))
                )
            finally:
                nodes.done(url, started)

        def _forward(
            self, host: str, port: int, headers: dict[str, str], raw: bytes, stream: bool
        ) -> None:
            conn = http.client.HTTPConnection(host, port, timeout=600)
            try:
                try:
                    conn.request("POST", "/v1/chat/completions", body=raw, headers=headers)
                    resp = conn.getresponse()
                except OSError as err:
                    _log("ERROR", "proxy.py:403", f"caught an exception: {err}")
                    _log("WARNING", "proxy.py:342", f"api timeout: http://{host}:{port}")
                    self._json(200, API_TIMEOUT)
                    return
                if resp.status != 200 or not stream:
                    data = resp.read()
                    self.send_response(resp.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    while True:
                        line = resp.readline()
                        if not line:
                            break
                        if line.strip():
                            self._chunk(line + b"\n\n")
                except (OSError, http.client.HTTPException) as err:
                    _log("ERROR", "proxy.py:403", f"caught an exception: {err}")
                    _log("WARNING", "proxy.py:342", f"api timeout: http://{host}:{port}")
                    self._chunk(json.dumps(API_TIMEOUT).encode() + b"\n")
                self._chunk(b"")
            except OSError:
                pass  # the client went away
            finally:
                conn.close()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def serve_proxy(args: argparse.Namespace) -> int:
    """Run the proxy until SIGTERM/SIGINT."""
    nodes = Nodes(args.routing_strategy)
    keys = [k for k in (args.api_keys or []) if k]
    every = float(os.environ.get("LMDEPLOY_CONTROLLER_HEART_BEAT_EXPIRATION", 90))
    threading.Thread(target=nodes.heart_beat, args=(every,), daemon=True).start()
    try:
        httpd = _Server((args.server_name, args.server_port), _handler(nodes, keys))
    except OSError as err:
        print(
            f"ERROR:    [Errno {err.errno}] error while attempting to bind on address "
            f"('{args.server_name}', {args.server_port}): {(err.strerror or '').lower()}",
            flush=True,
        )
        return 1
    print(f"INFO:     Started server process [{os.getpid()}]", flush=True)
    print("INFO:     Application startup complete.", flush=True)
    print(
        f"INFO:     Uvicorn running on http://{args.server_name}:{args.server_port} "
        "(Press CTRL+C to quit)",
        flush=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    while not done.wait(0.2):
        pass
    print("INFO:     Shutting down", flush=True)
    httpd.shutdown()
    return 0
