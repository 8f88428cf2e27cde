"""Stand-in for ``lmdeploy``'s CLI: parses ``serve api_server``'s real arguments (LMDeploy 0.18),
prints start-up lines like the real one (``--log-level INFO`` adds LMDeploy's own stage lines,
the tqdm bars come at every level), and serves the OpenAI protocol on the given port with
tests/fakes/openai_server.py, requiring the ``--api-keys`` key.

Like the real ``api_server`` it builds a ``PytorchEngineConfig`` for ``--backend pytorch`` and
sets ``enable_mp_engine = True`` on it; when that holds afterwards, the "engine" runs in a child
process started with the ``spawn`` method (so, as with the real one, the main module must guard
its start with ``if __name__ == "__main__":``). Unless ``LMDEPLOY_ENABLE_CHECK_ENV`` is false
it first runs the environment check in a spawned process pool, as LMDeploy does.

Behaviour switches (environment):
  FAKE_LMDEPLOY_START_DELAY=S        load "weights" for S seconds before the port opens
  FAKE_LMDEPLOY_FAIL_AT_START=MSG    print a traceback-like error with MSG and exit 1
  FAKE_LMDEPLOY_DIE_AFTER_REQUESTS=N serve N chat requests; the next one dies mid-stream
  FAKE_LMDEPLOY_IGNORE_SIGTERM=1     ignore SIGTERM (so does the child, if any)
  FAKE_LMDEPLOY_SPAWN_CHILD=1        start an "engine" child process in the same group
  FAKE_LMDEPLOY_HEALTH_503_S=S       /health and /v1/models answer 503 for S s after the port opens
  FAKE_LMDEPLOY_ARGS_FILE=PATH       write the parsed arguments as JSON (the key as a count),
                                     with ``enable_mp_engine`` and ``check_env`` as they were used,
                                     PyTorch's ``TORCH_COMPILE_DISABLE`` as the server sees it and
                                     ``sys.pycache_prefix``
  FAKE_LMDEPLOY_ENGINE_FAIL=MSG      building the engine fails with RuntimeError(MSG): the
                                     environment check reports it in LMDeploy's words, or
                                     (check off) the traceback is the engine's own
  FAKE_LMDEPLOY_VERSION=X.Y.Z        the version ``lmdeploy.version`` reports
  FAKE_LMDEPLOY_WARMUP_STEPS=N       decode warm-up steps (default 4)
  FAKE_LMDEPLOY_REPLY_DELAY=S        sleep S seconds before each streamed chunk (a slow model)
  FAKE_LMDEPLOY_ONE_AT_A_TIME=1      handle one request at a time, as llama.cpp's server does:
                                     while a chat streams, /health and /v1/models wait
  FAKE_LMDEPLOY_ONLY_GPU=G           the FAIL_AT_START / DIE_AFTER_REQUESTS switches apply only to
                                     a replica whose CUDA_VISIBLE_DEVICES is G (a bad GPU)

``FAKE_LMDEPLOY_ARGS_FILE`` may contain ``{port}``: each replica writes its own file.
``serve proxy`` is :mod:`lmdeploy.proxy` (the real one's routes); ``api_server --proxy-url URL``
registers with it once it serves, as the real api_server's start-up does (``/nodes/add`` with
its URL and model list, no key: the real proxy's key check skips ``/nodes``).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

_REPO = os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..")
)
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.fakes.openai_server import (  # noqa: E402
    FakeOpenAIServer,
    Reply,
    _Handler,
    _HTTPServer,
    demo_responder,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmdeploy")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve_sub = serve.add_subparsers(dest="serve_command", required=True)
    api = serve_sub.add_parser("api_server")
    api.add_argument("model_path")
    api.add_argument("--server-name", default="0.0.0.0")
    api.add_argument("--server-port", type=int, default=23333)
    api.add_argument("--api-keys", nargs="*", default=None)
    api.add_argument("--model-name", default=None)
    api.add_argument("--backend", default="turbomind", choices=["pytorch", "turbomind"])
    api.add_argument("--tp", type=int, default=1)
    api.add_argument("--session-len", type=int, default=None)
    api.add_argument("--cache-max-entry-count", type=float, default=0.8)
    api.add_argument("--enable-prefix-caching", action="store_true")
    api.add_argument("--max-batch-size", type=int, default=None)
    api.add_argument(
        "--model-format",
        default=None,
        choices=["hf", "awq", "gptq", "compressed-tensors", "fp8", "mxfp4"],
    )
    api.add_argument("--reasoning-parser", default=None)
    api.add_argument("--tool-call-parser", default=None)
    api.add_argument("--log-level", default="WARNING")
    api.add_argument("--eager-mode", action="store_true")
    api.add_argument("--dtype", default="auto")
    api.add_argument("--quant-policy", type=int, default=0)
    api.add_argument("--chat-template", default=None)
    api.add_argument("--trust-remote-code", action="store_true")
    api.add_argument("--max-prefill-token-num", type=int, default=8192)
    api.add_argument("--cache-block-seq-len", type=int, default=64)
    api.add_argument("--device", default="cuda")
    api.add_argument("--proxy-url", default=None)
    from lmdeploy.proxy import add_parser

    add_parser(serve_sub)
    return parser


_say_lock = threading.Lock()


def say(line: str) -> None:
    """One whole line (request threads print at once: no line may run into another)."""
    with _say_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def bar(desc: str, k: int, n: int) -> None:
    """A tqdm progress bar redraw as LMDeploy's loaders print them (to stderr, ``\\r``-ended)."""
    sys.stderr.write(
        f"{desc}: {k * 100 // n:3d}%|{'#' * k}{' ' * (n - k)}| {k}/{n} [00:00<00:00]\r"
    )
    sys.stderr.flush()


class _Log:
    """LMDeploy's logger format: ``DATE - lmdeploy - LEVEL - FILE:LINE - MESSAGE``."""

    def __init__(self, level: str) -> None:
        self.info_on = level.upper() in ("INFO", "DEBUG", "NOTSET")

    def info(self, where: str, message: str) -> None:
        if self.info_on:
            say(f"2026-11-01 10:00:00,000 - lmdeploy - INFO - {where} - {message}")

    def error(self, where: str, message: str) -> None:
        say(f"2026-11-01 10:00:00,000 - lmdeploy - ERROR - {where} - {message}")


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "on", "yes")


def _build_engine() -> None:
    """What building the engine does here: fail when asked to (the check runs this too)."""
    if os.environ.get("FAKE_LMDEPLOY_ENGINE_FAIL"):
        raise RuntimeError(os.environ["FAKE_LMDEPLOY_ENGINE_FAIL"])


def _engine_process() -> None:
    """The spawned engine process of ``enable_mp_engine``: serves until the group is stopped."""
    while True:
        time.sleep(1)


def _check_env(log: _Log) -> None:
    """LMDeploy's start-up environment check: a spawned process pool runs the checks."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        try:
            pool.submit(_build_engine).result()
        except Exception as err:  # noqa: BLE001 - reported the way engine_checker.py does
            log.error("base.py:52", f"{type(err).__name__}: {err}")
            log.error("base.py:53", "<Engine> check failed!\nPlease check your environment.")
            raise SystemExit(1) from None


def run() -> int:
    return main()


def main() -> int:
    from lmdeploy.messages import PytorchEngineConfig

    args = _parser().parse_args()
    if args.serve_command == "proxy":
        from lmdeploy.proxy import serve_proxy

        return serve_proxy(args)
    env = dict(os.environ)
    only_gpu = env.get("FAKE_LMDEPLOY_ONLY_GPU")
    if only_gpu is not None and env.get("CUDA_VISIBLE_DEVICES") != only_gpu:
        for switch in ("FAKE_LMDEPLOY_FAIL_AT_START", "FAKE_LMDEPLOY_DIE_AFTER_REQUESTS"):
            env.pop(switch, None)
    log = _Log(args.log_level)
    engine_config = None
    if args.backend == "pytorch":
        engine_config = PytorchEngineConfig(tp=args.tp)
        engine_config.enable_mp_engine = True  # as lmdeploy/serve/openai/api_server.py does
    mp_engine = bool(engine_config is not None and engine_config.enable_mp_engine)
    check_env = args.backend == "pytorch" and _env_flag("LMDEPLOY_ENABLE_CHECK_ENV", True)
    if env.get("FAKE_LMDEPLOY_IGNORE_SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child through exec
    if env.get("FAKE_LMDEPLOY_ARGS_FILE"):
        record = {k: v for k, v in vars(args).items() if k != "api_keys"}
        record["api_keys_count"] = len(args.api_keys or [])
        record["enable_mp_engine"] = mp_engine
        record["check_env"] = check_env
        record["version"] = __import__("lmdeploy").__version__
        record["torch_compile_disable"] = env.get("TORCH_COMPILE_DISABLE")
        record["pycache_prefix"] = sys.pycache_prefix
        record["cuda_visible_devices"] = env.get("CUDA_VISIBLE_DEVICES")
        path = env["FAKE_LMDEPLOY_ARGS_FILE"].replace("{port}", str(args.server_port))
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
    if args.reasoning_parser not in (
        None,
        "default",
        "deepseek-r1",
        "qwen-qwq",
        "intern-s1",
        "deepseek-v3",
    ):
        say(f"ValueError: The reasoning parser {args.reasoning_parser} is not in the parser list")
        return 1
    child = None
    if env.get("FAKE_LMDEPLOY_SPAWN_CHILD"):
        child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
        say(f"INFO: engine worker started pid={child.pid}")
    say(
        f"\x1b[32m2026-11-01 10:00:00,000 - lmdeploy - INFO\x1b[0m - model_path={args.model_path} "
        f"backend={args.backend} tp={args.tp}"
    )
    if env.get("FAKE_LMDEPLOY_FAIL_AT_START"):
        say("Traceback (most recent call last):")
        say('  File "lmdeploy/serve/openai/api_server.py", line 1, in serve')
        say(f"RuntimeError: {env['FAKE_LMDEPLOY_FAIL_AT_START']}")
        if child is not None:
            child.kill()
        return 1
    log.info("async_engine.py:133", f"input backend={args.backend}, backend_config={engine_config}")
    engine_proc = None
    if mp_engine:
        import multiprocessing as mp

        engine_proc = mp.get_context("spawn").Process(target=_engine_process, daemon=True)
        engine_proc.start()
        log.info("zmq_engine.py:70", f"engine process started pid={engine_proc.pid}")
    if check_env:
        _check_env(log)
    log.info("__init__.py:131", "Build <uni> executor.")
    log.info("base.py:430", "Building Model.")
    try:
        _build_engine()
    except RuntimeError:
        import traceback

        traceback.print_exc()
        if engine_proc is not None:
            engine_proc.kill()
        return 1
    delay = float(env.get("FAKE_LMDEPLOY_START_DELAY") or 0)
    steps = 4
    for i in range(steps):
        bar("Loading weights from safetensors", i + 1, steps)
        time.sleep(delay / steps)
    sys.stderr.write("\n")
    log.info("base.py:432", "Updating configs.")
    log.info("base.py:434", "Building GraphRunner and warmup ops, please waiting.")
    log.info(
        "base.py:439",
        "Building CacheEngine with config: \nCacheConfig(max_batches=128, block_size=64)",
    )
    log.info("base.py:446", "Warming up model.")
    log.info("agent.py:527", "Starting engine warmup. This may take a while...")
    bar("Warming up prefill", 1, 1)
    sys.stderr.write("\n")
    warm = int(env.get("FAKE_LMDEPLOY_WARMUP_STEPS") or 4)
    for i in range(warm):
        bar("Warming up decoding", i + 1, warm)
    sys.stderr.write("\n")
    log.info("agent.py:566", "Engine warmup completed in 0.01 seconds.")
    unhealthy_until = time.monotonic() + float(env.get("FAKE_LMDEPLOY_HEALTH_503_S") or 0)
    die_after = env.get("FAKE_LMDEPLOY_DIE_AFTER_REQUESTS")
    served = {"n": 0}

    def responder(body: dict) -> Reply:
        served["n"] += 1
        # uvicorn's access line, as the real api_server prints it
        say('INFO:     127.0.0.1 - "POST /v1/chat/completions HTTP/1.1" 200 OK')
        reply = demo_responder(body)
        reply.delay_s = float(env.get("FAKE_LMDEPLOY_REPLY_DELAY") or 0)
        if die_after is not None and served["n"] > int(die_after):
            # Die mid-stream: slow the text down and exit after the first chunks went out.
            threading.Timer(0.3, lambda: os._exit(3)).start()
            return Reply(content=reply.content * 20 + "x" * 400, delay_s=0.05)
        return reply

    one_at_a_time = threading.Lock() if env.get("FAKE_LMDEPLOY_ONE_AT_A_TIME") else None

    class Handler(_Handler):
        def handle_one_request(self) -> None:
            if one_at_a_time is None:
                super().handle_one_request()
                return
            with one_at_a_time:
                super().handle_one_request()

        def do_GET(self) -> None:  # noqa: N802
            if time.monotonic() < unhealthy_until and self.path.split("?")[0].rstrip("/") in (
                "/health",
                "/v1/models",
            ):
                self._send_json(503, {"status": "unhealthy", "message": "engine is initialising"})
                return
            super().do_GET()

    class Server(FakeOpenAIServer):
        def start(self) -> "Server":
            httpd = _HTTPServer((args.server_name, args.server_port), Handler)
            httpd.fake = self
            self._httpd = httpd
            self._stop.clear()
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
            return self

    key = (args.api_keys or [None])[0]
    server = Server(api_key=key, models=(args.model_name or args.model_path,), responder=responder)
    say(f"INFO:     Started server process [{os.getpid()}]")
    say("INFO:     Waiting for application startup.")
    try:
        server.start()
    except OSError as err:
        say(
            f"ERROR:    [Errno {err.errno}] error while attempting to bind on address "
            f"('{args.server_name}', {args.server_port}): {err.strerror.lower()}"
        )
        if child is not None:
            child.kill()
        if engine_proc is not None:
            engine_proc.kill()
        return 1
    if args.proxy_url:
        from lmdeploy.proxy import register_to_proxy

        register_to_proxy(
            args.proxy_url,
            f"http://{args.server_name}:{args.server_port}",
            [args.model_name or args.model_path],
        )
    say("INFO:     Application startup complete.")
    for _ in range(3):
        say(
            f"HINT:    Please open \x1b[93m\x1b[1mhttp://{args.server_name}:{args.server_port}\x1b[0m in a browser"
        )
    say(
        f"INFO:     Uvicorn running on http://{args.server_name}:{args.server_port} (Press CTRL+C to quit)"
    )

    done = threading.Event()
    if not env.get("FAKE_LMDEPLOY_IGNORE_SIGTERM"):
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(0.2):
        pass
    say("INFO:     Shutting down")
    server.stop()
    if child is not None:
        child.terminate()
        child.wait()
    if engine_proc is not None:
        engine_proc.terminate()
        engine_proc.join()
    say("INFO:     Finished server process")
    return 0
