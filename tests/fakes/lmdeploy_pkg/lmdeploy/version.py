import os

__version__ = os.environ.get("FAKE_LMDEPLOY_VERSION") or "0.18.0"
