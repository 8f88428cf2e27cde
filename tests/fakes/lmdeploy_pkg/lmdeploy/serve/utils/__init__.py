"""Stand-in for ``lmdeploy.serve.utils``."""
