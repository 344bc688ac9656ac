"""Daemon configuration: defaults, the TOML file and command-line flags."""

from gd2.config.settings import DEFAULT_CONFIG_FILE, Config, load_config

__all__ = ["DEFAULT_CONFIG_FILE", "Config", "load_config"]
