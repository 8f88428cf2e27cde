"""The in-process transformers backend (the tutorials' path), behind the :class:`ChatClient` API.

The model and tokenizer load on first use, in a worker thread (loading takes seconds to
minutes and must not freeze the app). Each completion runs ``model.generate`` in a thread with
a ``TextIteratorStreamer``; text pieces cross into asyncio through a queue. Closing the stream
early (a cancelled chain) sets a stop flag that a stopping criterion checks between tokens.

GGUF files load too (transformers dequantizes them; needs the ``gguf`` package):
``TransformersChatClient("/dir", gguf_file="model.gguf")``. There is no guided decoding here:
a ``response_format`` is refused with :class:`ResponseFormatUnsupported`, so the g1 strategy
falls back to tolerant parsing of plain text.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.client import ChatChunk, JSONObject, Usage
from backends.errors import BackendError, ResponseFormatUnsupported
from backends.presets import ModelRef

DEFAULT_MAX_TOKENS = 512

#: A loaded model and its tokenizer: transformers objects, which have no types o1tui checks
#: (mypy skips the package), so ``Any`` at this boundary.
Loaded = tuple[Any, Any]


class TransformersUnavailable(BackendError):
    """transformers/torch (or gguf, for a GGUF file) are not installed."""


def missing_packages(gguf: bool = False) -> list[str]:
    """The packages this backend needs that are not installed."""
    names = ["torch", "transformers"] + (["gguf"] if gguf else [])
    return [n for n in names if importlib.util.find_spec(n) is None]


@dataclass
class _Generated:
    """What ``model.generate`` left, written by its thread, read once the stream ended."""

    completion_tokens: int = 0
    error: Exception | None = None


class TransformersChatClient:
    """A model loaded with transformers in this process, streaming like a server would."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        gguf_file: str | None = None,
        model_name: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        path = Path(model_path)
        if gguf_file is None and path.suffix.lower() == ".gguf":
            path, gguf_file = path.parent, path.name
        self.model_path = path
        self.gguf_file = gguf_file
        self.model = model_name or (Path(gguf_file).stem if gguf_file else path.name)
        self.device = device
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self._loaded: Loaded | None = None
        self._load_lock = threading.Lock()

    @classmethod
    def from_model_ref(
        cls, ref: ModelRef, *, device: str | None = None, dtype: str | None = None
    ) -> TransformersChatClient:
        if ref.path is None:
            raise TransformersUnavailable(
                f"{ref.source} is not on disk: run `o1tui download {ref.source}`"
            )
        return cls(
            ref.path,
            model_name=ref.served_name,
            trust_remote_code=ref.trust_remote_code,
            device=device,
            dtype=dtype,
        )

    def load(self) -> Loaded:
        """Load (once) and return ``(model, tokenizer)``. Blocking; call from a thread."""
        with self._load_lock:
            if self._loaded is not None:
                return self._loaded
            missing = missing_packages(self.gguf_file is not None)
            if missing:
                raise TransformersUnavailable(
                    f"the transformers engine needs {', '.join(missing)}: pip install 'o1tui[local]'"
                )
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            kwargs: dict[str, bool | str] = {"trust_remote_code": self.trust_remote_code}
            if self.gguf_file:
                kwargs["gguf_file"] = self.gguf_file
            tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), **kwargs)
            dtype = (
                getattr(torch, self.dtype)
                if self.dtype
                else (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
            )
            model = AutoModelForCausalLM.from_pretrained(
                str(self.model_path), dtype=dtype, **kwargs
            )
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.to(device)
            model.eval()
            self._loaded = (model, tokenizer)
            return self._loaded

    async def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        response_format: JSONObject | None = None,
        extra_body: JSONObject | None = None,
    ) -> AsyncIterator[ChatChunk]:
        if response_format is not None:
            raise ResponseFormatUnsupported(
                "the transformers engine has no guided decoding (response_format)"
            )
        model, tokenizer = await asyncio.to_thread(self.load)
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()

        class _StopFlag(StoppingCriteria):
            def __call__(self, input_ids: object, scores: object, **kwargs: object) -> bool:
                return stop.is_set()

        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        limit = max_tokens or DEFAULT_MAX_TOKENS
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        gen_kwargs: dict[str, object] = dict(
            **inputs,
            max_new_tokens=limit,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_StopFlag()]),
            pad_token_id=tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        )
        if temperature and temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=temperature)
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        result = _Generated()

        def generate() -> None:
            try:
                out = model.generate(**gen_kwargs)
                result.completion_tokens = int(out.shape[-1]) - prompt_tokens
            except Exception as err:  # noqa: BLE001 - reported to the consumer, not lost in a thread
                result.error = err
                streamer.end()

        def pump() -> None:
            for piece in streamer:
                loop.call_soon_threadsafe(queue.put_nowait, ("text", piece))
            worker.join()
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

        worker = threading.Thread(target=generate, name="transformers-generate", daemon=True)
        worker.start()
        threading.Thread(target=pump, name="transformers-stream", daemon=True).start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    break
                if value:
                    yield ChatChunk(content=value)
            if result.error is not None:
                raise BackendError(f"transformers generation failed: {result.error}")
            completion = result.completion_tokens
            finish = "length" if completion >= limit else "stop"
            yield ChatChunk(finish_reason=finish, usage=Usage(prompt_tokens, completion))
        finally:
            stop.set()  # a consumer that stopped early must not leave generate() running

    async def aclose(self) -> None:
        """Drop the model so its memory can be freed."""
        self._loaded = None
