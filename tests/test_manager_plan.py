"""start_backend's three parts without a process: the settings read once, the plan, the
decision to reuse (on facts passed in as data) and the command a start would run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backends.engines import EngineUnavailable
from backends.keepalive import BadDuration, KeptServer
from backends.manager import (
    LOOPBACK,
    PortInUse,
    PortLook,
    ResolvedSettings,
    ServerPlan,
    launch_spec,
    look_at_port,
    plan_server,
    resolve_settings,
    reuse_server,
    server_options,
)
from backends.supervisor import Probe, free_port
from tests.servers_helpers import ALL
from tui.core.config import Settings


@pytest.fixture(autouse=True)
def env(fake_lmdeploy: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("O1TUI_MODELS_DIR", str(tmp_path / "models"))


def _plan(model_dir: Path, **settings: object) -> ServerPlan:
    base = Settings(engine="lmdeploy", model=str(model_dir), port=23999)
    return plan_server(dataclasses.replace(base, **settings), available=ALL, gpu=True)


# --- the settings, read once -------------------------------------------------------------------


def test_no_settings_resolve_to_the_defaults() -> None:
    resolved = resolve_settings(None)
    assert resolved == ResolvedSettings()
    assert resolved.host == LOOPBACK and resolved.port is None and resolved.dp == 1
    assert resolved.engine == "auto" and resolved.model is None and resolved.api_key is None
    assert resolved.keep_alive == "0" and resolved.server_args == ()


def test_settings_resolve_to_typed_values_with_empty_ones_as_defaults() -> None:
    settings = Settings(
        engine="",
        model="qwen3-8b",
        host="",
        port=0,
        api_key="",
        tp=2,
        dp=3,
        max_batch_size=64,
        enable_prefix_caching=False,
        keep_alive="",
        server_args=["--log-level", "INFO"],
    )
    resolved = resolve_settings(settings)
    assert resolved.engine == "auto" and resolved.model == "qwen3-8b"
    assert resolved.host == LOOPBACK and resolved.port is None and resolved.api_key is None
    assert resolved.tp == 2 and resolved.dp == 3 and resolved.max_batch_size == 64
    assert resolved.enable_prefix_caching is False and resolved.keep_alive == "0"
    assert resolved.server_args == ("--log-level", "INFO")
    assert resolve_settings(resolved) is resolved  # already resolved: read once, not again


def test_server_args_given_as_one_string_are_split_into_words() -> None:
    settings = dataclasses.replace(Settings(), server_args="--chat-template 'my template.json'")
    assert resolve_settings(settings).server_args == ("--chat-template", "my template.json")
    opts = server_options(settings, 4000)
    assert opts.extra_args == ("--chat-template", "my template.json")
    assert opts.port == 4000 and opts.host == LOOPBACK and opts.tp == 1


# --- plan ----------------------------------------------------------------------------------


def test_a_plan_from_settings(model_dir: Path) -> None:
    plan = _plan(model_dir, keep_alive="5m", api_key="mine", server_args=["--log-level", "INFO"])
    assert plan.engine == "lmdeploy" and not plan.in_process
    assert plan.model_ref.path == model_dir and plan.model_ref.served_name == "tiny-chat"
    assert (plan.host, plan.port, plan.dp) == (LOOPBACK, 23999, 1)
    assert plan.keep_alive_s == 300.0
    assert plan.user_key == "mine" and plan.key_source == "user"
    assert plan.warnings == () and plan.reuse
    assert plan.settings.server_args == ("--log-level", "INFO")
    assert "mine" not in repr(plan)  # a plan can be logged without the key


def test_arguments_override_the_settings(model_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "Other-Model"
    other.mkdir()
    (other / "config.json").write_text("{}")
    plan = plan_server(
        Settings(engine="llamacpp", model="qwen3-8b", port=23999),
        engine="lmdeploy",
        model=str(other),
        port=24000,
        host="127.0.0.2",
        reuse=False,
        available=ALL,
        gpu=True,
    )
    assert plan.engine == "lmdeploy" and plan.model_ref.path == other
    assert (plan.host, plan.port, plan.reuse) == ("127.0.0.2", 24000, False)
    assert plan.user_key is None and plan.key_source == "generated"


def test_no_configured_port_plans_a_free_one(model_dir: Path) -> None:
    assert _plan(model_dir, port=0).port is None


def test_a_plan_without_a_gpu_warns_and_an_unusable_dp_is_refused(model_dir: Path) -> None:
    plan = plan_server(Settings(engine="lmdeploy", model=str(model_dir)), available=ALL, gpu=False)
    assert plan.engine == "lmdeploy" and "no NVIDIA GPU" in plan.warnings[0]
    # dp is checked against the engine asked for before its model is looked at
    with pytest.raises(EngineUnavailable, match="the llamacpp engine has none"):
        plan_server(
            Settings(engine="llamacpp", model="no-such-model", dp=2), available=ALL, gpu=False
        )
    with pytest.raises(EngineUnavailable, match="dp must be between"):
        _plan(model_dir, dp=99)


def test_keep_alive_is_parsed_for_a_server_only(model_dir: Path) -> None:
    with pytest.raises(BadDuration):
        _plan(model_dir, keep_alive="soon")
    plan = plan_server(
        Settings(engine="transformers", model=str(model_dir), keep_alive="soon"),
        available=ALL,
        gpu=False,
    )
    assert plan.in_process and plan.keep_alive_s == 0.0


# --- reuse, decided on what was found --------------------------------------------------------


def test_nothing_to_look_at_or_a_free_port_means_start_one(model_dir: Path) -> None:
    plan = _plan(model_dir)
    assert reuse_server(plan, None) is None
    assert reuse_server(plan, PortLook(probe=Probe("down"), free=True)) is None


def test_a_ready_server_serving_the_model_is_reused(model_dir: Path) -> None:
    plan = _plan(model_dir, api_key="mine")
    handle = reuse_server(plan, PortLook(probe=Probe("ready", ("tiny-chat",))))
    assert handle is not None and handle.reused and not handle.started and not handle.kept
    assert handle.base_url == "http://127.0.0.1:23999/v1" and handle.api_key == "mine"
    assert handle.model == "tiny-chat" and handle.warnings == ()
    assert handle.reuse_note == "using your server already running on port 23999 (tiny-chat)"


def test_a_ready_server_serving_another_model_is_used_with_a_warning(model_dir: Path) -> None:
    handle = reuse_server(_plan(model_dir), PortLook(probe=Probe("ready", ("other", "more"))))
    assert handle is not None and handle.model == "other"
    assert handle.warnings == (
        "the server on port 23999 serves 'other', not 'tiny-chat'; using it",
    )


def test_a_ready_server_is_not_reused_when_reuse_is_off(model_dir: Path) -> None:
    plan = dataclasses.replace(_plan(model_dir), reuse=False)
    with pytest.raises(PortInUse, match="port 23999 is taken by something else"):
        reuse_server(plan, PortLook(probe=Probe("ready", ("tiny-chat",))))


@pytest.mark.parametrize(
    ("found", "free", "said"),
    [
        (Probe("auth"), False, "needs an API key: give it with --api-key"),
        (Probe("other", detail="HTTP 404 on /v1/models"), False, r"\(HTTP 404 on /v1/models\)"),
        (Probe("starting"), False, "does not answer as an OpenAI-compatible server"),
        (Probe("down"), False, "port 23999 is taken by something else"),
    ],
)
def test_a_port_o1tui_cannot_use_is_refused(
    model_dir: Path, found: Probe, free: bool, said: str
) -> None:
    with pytest.raises(PortInUse, match=said):
        reuse_server(_plan(model_dir), PortLook(probe=found, free=free))


def test_a_kept_warm_server_is_attached(model_dir: Path) -> None:
    kept = KeptServer(
        port=23999,
        host=LOOPBACK,
        engine="lmdeploy",
        model="tiny-chat",
        display="Tiny-Chat",
        api_key="kept-key",
        pid=4242,
        started="123",
        keep_alive_s=600.0,
    )
    handle = reuse_server(_plan(model_dir), PortLook(kept=kept))
    assert handle is not None and handle.kept and handle.reused and not handle.started
    assert handle.api_key == "kept-key" and handle.base_url == kept.base_url
    assert handle.warnings == ()
    assert handle.reuse_note is not None and "pid 4242" in handle.reuse_note
    assert handle.reuse_note.endswith("it stops after 10 min without requests")
    assert handle.left_note is not None and "kill 4242" in handle.left_note
    other = reuse_server(_plan(model_dir), PortLook(kept=dataclasses.replace(kept, model="x")))
    assert other is not None and other.model == "x"
    assert other.warnings == ("a server kept warm on port 23999 serves 'Tiny-Chat'; using it",)


def test_without_a_port_nothing_is_looked_at(model_dir: Path, tmp_path: Path) -> None:
    assert look_at_port(_plan(model_dir, port=0), state_dir=tmp_path) is None


def test_a_port_where_nothing_listens_is_seen_free(model_dir: Path, tmp_path: Path) -> None:
    plan = _plan(model_dir, port=free_port())
    look = look_at_port(plan, state_dir=tmp_path)
    assert look == PortLook(kept=None, probe=Probe("down"), free=True)
    assert reuse_server(plan, look) is None


# --- spawn's command -------------------------------------------------------------------------


def test_the_command_of_one_server(model_dir: Path) -> None:
    plan = _plan(model_dir, server_args=["--log-level", "INFO"], backend="pytorch")
    spec = launch_spec(plan, 24001, "the-key")
    assert spec.engine == "lmdeploy" and spec.port == 24001 and spec.host == LOOPBACK
    assert spec.served_name == "tiny-chat" and spec.api_key == "the-key"
    assert spec.base_url == "http://127.0.0.1:24001/v1"
    assert str(model_dir) in spec.argv and "pytorch" in spec.argv
    assert spec.argv[-2:] == ("--log-level", "INFO")
    assert not any("the-key" in word for word in spec.argv)  # the key stays off the argv
    assert spec.replicas == 0


def test_the_command_of_a_replica_set(model_dir: Path) -> None:
    plan = _plan(model_dir, dp=2)
    spec = launch_spec(plan, 24001, "the-key", [24002, 24003])
    assert spec.port == 24001 and spec.replicas == 2 and spec.served_name == "tiny-chat"
    assert any("replicas on ports 24002, 24003" in note for note in spec.notes)
    assert not any("the-key" in word for word in spec.argv)
    with pytest.raises(ValueError, match="2 replicas need 2 ports, got 1"):
        launch_spec(plan, 24001, "the-key", [24002])
