"""Node configuration: TOML -> frozen, validated `NodeConfig` (every key: see `model`)."""

from lispstack.config.errors import ConfigError
from lispstack.config.loader import load_config, parse_config
from lispstack.config.model import (
    AuthAlgorithm,
    DatabaseMapping,
    Instance,
    ItrOptions,
    ListenAddress,
    LogFormat,
    LogLevel,
    MapResolverEntry,
    MapServerEntry,
    MapServerOptions,
    NodeConfig,
    NodeRole,
    NodeSection,
    Petr,
    PetrOptions,
    PitrOptions,
    Rloc,
    Site,
    SiteKey,
    TunOptions,
)
from lispstack.config.prefix import ConfigPrefix, IPAddress, IPNetwork, parse_prefix
from lispstack.config.render import render_config

__all__ = [
    "AuthAlgorithm",
    "ConfigError",
    "ConfigPrefix",
    "DatabaseMapping",
    "IPAddress",
    "IPNetwork",
    "Instance",
    "ItrOptions",
    "ListenAddress",
    "LogFormat",
    "LogLevel",
    "MapResolverEntry",
    "MapServerEntry",
    "MapServerOptions",
    "NodeConfig",
    "NodeRole",
    "NodeSection",
    "Petr",
    "PetrOptions",
    "PitrOptions",
    "Rloc",
    "Site",
    "SiteKey",
    "TunOptions",
    "load_config",
    "parse_config",
    "parse_prefix",
    "render_config",
]
