"""Stand-in ``lmdeploy`` package for tests: what o1tui's launcher touches of the real one
(``lmdeploy.version``, ``lmdeploy.messages.PytorchEngineConfig``, ``python -m lmdeploy``), with
the CLI in :mod:`lmdeploy.cli`. ``FAKE_LMDEPLOY_VERSION`` changes the version it reports."""

import os

from .version import __version__  # noqa: F401

if os.environ.get("FAKE_LMDEPLOY_VERSION"):
    __version__ = os.environ["FAKE_LMDEPLOY_VERSION"]  # noqa: F811
