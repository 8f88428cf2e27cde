"""Every path o1tui reads or writes: defined in :mod:`backends.locations` (the lower layer,
which the model-server code needs for its logs and models and which never imports ``tui``),
imported here under the name the app, the history and the settings have always used."""

from __future__ import annotations

from backends.locations import (
    APP_NAME,
    CONFIG_DIR_ENV,
    DATA_DIR_ENV,
    LOG_DIR_ENV,
    LocationError,
    config_dir,
    config_file,
    data_dir,
    ensure_private_dir,
    log_dir,
    runtime_dir,
    user_themes_dir,
)

__all__ = [
    "APP_NAME",
    "CONFIG_DIR_ENV",
    "DATA_DIR_ENV",
    "LOG_DIR_ENV",
    "LocationError",
    "config_dir",
    "config_file",
    "data_dir",
    "ensure_private_dir",
    "log_dir",
    "runtime_dir",
    "user_themes_dir",
]
