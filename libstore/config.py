"""Configuration: ``libstore.from_url``, ``libstore.from_config``, the environment and files.

Three levels of settings, the first that sets a value wins:

1. **explicit**: the URL and keyword arguments given to :func:`from_url` /
   :func:`from_config`;
2. **file**: a configuration file (TOML, YAML or JSON) or mapping passed as
   ``config=``;
3. **environment**: ``LIBSTORE_URL``, ``LIBSTORE_PROVIDER``, ``LIBSTORE_BUCKET``,
   ``LIBSTORE_PREFIX``, ``LIBSTORE_ENDPOINT_URL``, ``LIBSTORE_REGION``,
   ``LIBSTORE_PROFILE``, ``LIBSTORE_ADDRESSING_STYLE``,
   ``LIBSTORE_AUTO_CREATE_BUCKET``, then AWS's ``AWS_ENDPOINT_URL_S3``,
   ``AWS_ENDPOINT_URL``, ``AWS_REGION`` and ``AWS_DEFAULT_REGION`` (the
   ``LIBSTORE_*`` variables win over the ``AWS_*`` ones).

Settings are merged one by one, except the *location*: the bucket comes from the
highest level that names one, and the prefix from that level or a higher one, so
a ``LIBSTORE_PREFIX`` never lands inside a bucket named by an argument; the
credentials (key/secret/token, profile, anonymous) and the endpoint (endpoint_url,
host/port) are likewise taken whole from the highest level giving any part. When no
level gives a region for Amazon S3, the region of the AWS profile in
``~/.aws/config`` is used, then ``us-east-1`` (requests to a bucket elsewhere are
redirected transparently). Credentials are not read here: unless key and secret,
``profile`` or ``anonymous`` are set, the driver uses the default credential
chain (:mod:`libstore.credentials`), whose environment variables thus come last.

String values in files may use ``${env.NAME}`` (an error names the variable when
it is unset) and ``${env.NAME:=default}`` (the default when unset or empty);
``$${`` stands for a literal ``${``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from libstore.base import StorageDriver
from libstore.registry import get_driver, registered_drivers
from libstore.scoped import ScopedDriver, normalize_prefix
from libstore.types import InvalidArgumentError

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "ConfigError",
    "StoreConfig",
    "from_config",
    "from_url",
    "load_config_file",
    "register_url_scheme",
    "resolve",
    "substitute_env",
]

#: The environment variables read, by setting, in the order they are consulted.
ENVIRONMENT_VARIABLES: Final[Mapping[str, tuple[str, ...]]] = {
    "url": ("LIBSTORE_URL",),
    "provider": ("LIBSTORE_PROVIDER",),
    "bucket": ("LIBSTORE_BUCKET",),
    "prefix": ("LIBSTORE_PREFIX",),
    "endpoint_url": ("LIBSTORE_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "region": ("LIBSTORE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "profile": ("LIBSTORE_PROFILE",),
    "addressing_style": ("LIBSTORE_ADDRESSING_STYLE",),
    "auto_create_bucket": ("LIBSTORE_AUTO_CREATE_BUCKET",),
}

# Other spellings (boto3, obstore, the libstore CLI's config file) -> the setting.
_ALIASES: Final[Mapping[str, str]] = {
    "container": "bucket",
    "bucket_name": "bucket",
    "endpoint": "endpoint_url",
    "aws_endpoint_url": "endpoint_url",
    "region_name": "region",
    "aws_region": "region",
    "access_key": "key",
    "access_key_id": "key",
    "aws_access_key_id": "key",
    "secret_key": "secret",
    "secret_access_key": "secret",
    "aws_secret_access_key": "secret",
    "session_token": "token",
    "aws_session_token": "token",
    "skip_signature": "anonymous",
    "verify_ssl": "verify",
    "auto_create_container": "auto_create_bucket",
    "path": "base_path",
}
# Settings handled here rather than passed to the driver as they are.
_OWN_SETTINGS = frozenset(
    {
        "url",
        "provider",
        "bucket",
        "prefix",
        "endpoint_url",
        "profile",
        "anonymous",
        "auto_create_bucket",
        "base_path",
    }
)
_SECRET_SETTINGS = frozenset({"secret", "token", "credentials"})
_GROUPS = (
    frozenset({"key", "secret", "token", "profile", "anonymous", "credentials"}),
    frozenset({"endpoint_url", "host", "port"}),
)
_S3_SCHEMES = frozenset({"s3", "s3a", "s3n"})
_SCHEME_PROVIDERS: dict[str, str] = {"r2": "cloudflare_r2", "gs": "google_storage"}
_SUBSTITUTION = re.compile(
    r"\$\$\{|\$\{env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::=(?P<default>[^}]*))?\}|\$\{"
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(InvalidArgumentError):
    """A setting is unknown, invalid, conflicting or missing."""


class _AwsDefaultEndpoint:
    """Marks "the provider's own endpoint" (an Amazon S3 URL), overriding a custom one."""

    def __repr__(self) -> str:
        return "<provider endpoint>"


_PROVIDER_ENDPOINT: Final = _AwsDefaultEndpoint()

#: URL scheme -> parser returning settings (``provider``, ``bucket``, ``prefix``…).
UrlParser = Callable[[str], dict[str, Any]]
_url_schemes: dict[str, UrlParser] = {}


def register_url_scheme(scheme: str, parser: UrlParser, *, clobber: bool = False) -> None:
    """Teach :func:`from_url` a new URL scheme.

    Args:
        scheme: The scheme, lower case (``"gcs"``).
        parser: Turns a URL of that scheme into settings: ``provider``, ``bucket``,
            ``prefix`` and any driver option.
        clobber: Replace a scheme already registered.
    """
    key = scheme.lower()
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", key):
        raise ValueError(f"invalid URL scheme {scheme!r}")
    if key in _url_schemes and not clobber:
        raise ValueError(f"URL scheme {scheme!r} is registered; pass clobber=True")
    _url_schemes[key] = parser


# --------------------------------------------------------------------------
# Substitution and files
# --------------------------------------------------------------------------


def substitute_env(
    value: Any, environ: Mapping[str, str] | None = None, *, where: str = "config"
) -> Any:
    """Replace ``${env.NAME}`` and ``${env.NAME:=default}`` in every string of ``value``.

    Dicts and lists are walked (their keys are left alone); other values are returned
    as they are. ``$${`` gives a literal ``${``.

    Raises:
        ConfigError: A variable without default is unset, or ``${`` starts anything
            else than ``${env.NAME}`` — the message names the variable and the setting.
    """
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _substitute(value, env, where)
    if isinstance(value, Mapping):
        return {k: substitute_env(v, env, where=f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute_env(v, env, where=f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _substitute(text: str, environ: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        matched = match.group(0)
        if matched == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            raise ConfigError(
                f"{where}: unsupported substitution at {text[match.start() :][:30]!r}; use "
                "${env.NAME} or ${env.NAME:=default} (and $${ for a literal ${)"
            )
        default = match.group("default")
        current = environ.get(name)
        if default is not None:
            return current if current else default
        if current is None:
            raise ConfigError(
                f"{where}: environment variable {name} is not set (and ${{env.{name}}} has "
                f"no default; write ${{env.{name}:=default}} to give one)"
            )
        return current

    return _SUBSTITUTION.sub(replace, text)


def load_config_file(
    path: str | os.PathLike[str],
    *,
    section: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read a TOML, YAML or JSON configuration file, with ``${env.…}`` substituted.

    TOML uses the standard library; YAML needs PyYAML. The type is chosen by the
    extension (``.toml``, ``.yaml``/``.yml``, ``.json``).

    Args:
        path: The file.
        section: A dotted path to the table holding the settings
            (``"storage.backups"``); default: the whole file.
        environ: The environment used for substitution (default ``os.environ``).

    Raises:
        ConfigError: The file is missing, unreadable, malformed, of an unknown type,
            YAML without PyYAML, or the section is missing.
    """
    name = os.fspath(path)
    extension = os.path.splitext(name)[1].lower()
    try:
        with open(name, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {name!r}: {exc.strerror or exc}") from None
    data: Any
    if extension == ".toml":
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {name!r} is not valid TOML: {exc}") from None
    elif extension in (".yaml", ".yml"):
        data = _load_yaml(raw, name)
    elif extension == ".json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"config file {name!r} is not valid JSON: {exc}") from None
    else:
        raise ConfigError(
            f"config file {name!r}: unknown type {extension or '(no extension)'}; "
            "use .toml, .yaml, .yml or .json"
        )
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {name!r} must hold a table of settings")
    if section:
        for part in section.split("."):
            table = data.get(part) if isinstance(data, Mapping) else None
            if not isinstance(table, Mapping):
                raise ConfigError(f"config file {name!r} has no table [{section}]")
            data = table
    result: dict[str, Any] = substitute_env(dict(data), environ, where=f"{name}")
    return result


def _load_yaml(raw: bytes, name: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ConfigError(
            f"config file {name!r} is YAML, which needs PyYAML: pip install pyyaml "
            "(or pip install 'libstore[yaml]'; TOML needs nothing)"
        ) from None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {name!r} is not valid YAML: {exc}") from None


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


def _parse_url(url: str, where: str) -> tuple[dict[str, Any], frozenset[str]]:
    """Settings named by ``url``, and those of them that are only defaults ("weak")."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"{where}: {url!r} is not a URL (expected s3://bucket/prefix or alike)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.fragment:
        raise ConfigError(f"{where}: URL {url!r} must not have a '#' part")
    query = _url_query(parts.query, url, where)
    weak: set[str] = set()
    settings: dict[str, Any]
    if scheme in _url_schemes:
        settings = dict(_url_schemes[scheme](url))
    elif scheme == "file":
        settings = _parse_file_url(parts.netloc, parts.path, url, where)
    elif scheme in ("http", "https"):
        settings, weak_http = _parse_http_url(parts, url, where)
        weak |= weak_http
    else:
        settings = _parse_bucket_url(scheme, parts.netloc, parts.path, url, where)
        if scheme in _S3_SCHEMES:
            weak.add("provider")
    for key, value in query.items():
        if key in settings and settings[key] != value:
            raise ConfigError(f"{where}: URL {url!r} gives {key} twice")
        settings[key] = value
    return settings, frozenset(weak)


def _url_query(query: str, url: str, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        key = _canonical(name)
        if key in _SECRET_SETTINGS or key == "key":
            raise ConfigError(
                f"{where}: URL {url!r} carries credentials ({name}); pass them as arguments, "
                "in a config file or through the credential chain instead"
            )
        if key in out:
            raise ConfigError(f"{where}: URL {url!r} gives {name} twice")
        out[key] = value
    return out


def _bucket_and_prefix(path: str, url: str, where: str) -> tuple[str, str]:
    bucket, _, prefix = path.lstrip("/").partition("/")
    bucket = unquote(bucket)
    if not bucket:
        raise ConfigError(f"{where}: URL {url!r} names no bucket")
    return bucket, unquote(prefix)


def _parse_bucket_url(scheme: str, netloc: str, path: str, url: str, where: str) -> dict[str, Any]:
    provider = "s3" if scheme in _S3_SCHEMES else _SCHEME_PROVIDERS.get(scheme, scheme)
    if provider not in registered_drivers():
        known = sorted({*_S3_SCHEMES, *_SCHEME_PROVIDERS, "file", "http", "https", *_url_schemes})
        raise ConfigError(
            f"{where}: unknown URL scheme {scheme!r} in {url!r}; known: {', '.join(known)} "
            "and the provider names of libstore.get_driver"
        )
    if "@" in netloc:
        raise ConfigError(f"{where}: URL {url!r} must not carry credentials")
    bucket = unquote(netloc)
    if not bucket:
        raise ConfigError(f"{where}: URL {url!r} names no bucket")
    return {"provider": provider, "bucket": bucket, "prefix": unquote(path.lstrip("/"))}


def _parse_file_url(netloc: str, path: str, url: str, where: str) -> dict[str, Any]:
    if netloc not in ("", "localhost"):
        raise ConfigError(f"{where}: file URL {url!r} must name a local path (file:///dir/...)")
    directory = unquote(path).rstrip("/")
    base, container = os.path.split(directory)
    if not container or not base:
        raise ConfigError(
            f"{where}: file URL {url!r} names no container: use file:///base/dir/container"
        )
    return {"provider": "local", "base_path": base, "bucket": container}


def _parse_http_url(parts: Any, url: str, where: str) -> tuple[dict[str, Any], frozenset[str]]:
    from libstore.drivers._s3_endpoints import parse_aws_s3_host, parse_r2_host

    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where}: URL {url!r} must not carry credentials")
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigError(f"{where}: URL {url!r} has no host")
    aws = parse_aws_s3_host(host)
    if aws is not None:
        if aws.bucket is not None:
            bucket, prefix = unquote(aws.bucket), unquote(parts.path.lstrip("/"))
        else:
            bucket, prefix = _bucket_and_prefix(parts.path, url, where)
        settings: dict[str, Any] = {
            "provider": "s3",
            "bucket": bucket,
            "prefix": prefix,
            "endpoint_url": _PROVIDER_ENDPOINT,
        }
        if aws.region is not None:
            settings["region"] = aws.region
        for flag in ("dualstack", "fips", "accelerate"):
            if getattr(aws, flag):
                settings[flag] = True
        if parts.scheme == "http":
            settings["secure"] = False
        return settings, frozenset()
    bucket, prefix = _bucket_and_prefix(parts.path, url, where)
    r2 = parse_r2_host(host)
    if r2 is not None:
        account, region = r2
        return {
            "provider": "cloudflare_r2",
            "account": account,
            "region": region,
            "bucket": bucket,
            "prefix": prefix,
            "endpoint_url": _PROVIDER_ENDPOINT,
        }, frozenset()
    netloc = parts.netloc.rpartition("@")[2]
    return {
        "provider": "s3",
        "endpoint_url": f"{parts.scheme}://{netloc}",
        "addressing_style": "path",
        "bucket": bucket,
        "prefix": prefix,
    }, frozenset({"provider", "addressing_style"})


# --------------------------------------------------------------------------
# Levels and resolution
# --------------------------------------------------------------------------


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"setting names must be str, not {name!r}")
    lowered = name.strip().lower().replace("-", "_")
    return _ALIASES.get(lowered, lowered)


@dataclass
class _Level:
    label: str
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)


def _level_from(label: str, settings: Mapping[str, Any], *, strict: bool) -> _Level:
    """A level from settings (a URL among them expanded); ``strict`` refuses conflicts."""
    level = _Level(label)
    url_value: Any = None
    for name, value in settings.items():
        key = _canonical(name)
        if key in level.values and strict:
            raise ConfigError(f"{label}: {key} is given twice ({name!r} and another spelling)")
        if key == "url":
            url_value = value
            continue
        if value is None:
            continue
        level.values[key] = value
        level.origin[key] = label
    if url_value is not None:
        derived, weak = _parse_url(url_value, label)
        for key, value in derived.items():
            if key in level.values:
                if key in weak:
                    continue
                given = level.values[key]
                if strict and _normal(key, given) != _normal(key, value):
                    raise ConfigError(
                        f"{label}: the URL {url_value!r} says {key}={_show(key, value)} but "
                        f"{key}={_show(key, given)} is also given"
                    )
                continue
            level.values[key] = value
            level.origin[key] = f"{label} (URL)"
    return level


def _normal(key: str, value: Any) -> Any:
    if key == "prefix" and isinstance(value, str):
        try:
            return normalize_prefix(value)
        except InvalidArgumentError as exc:
            raise ConfigError(str(exc)) from None
    return value


def _show(key: str, value: Any) -> str:
    return "<hidden>" if key in _SECRET_SETTINGS else repr(value)


def _environment_level(environ: Mapping[str, str]) -> _Level:
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    ignore_endpoints = (environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") or "").lower() in _TRUE
    for key, names in ENVIRONMENT_VARIABLES.items():
        for name in names:
            if ignore_endpoints and name.startswith("AWS_ENDPOINT_URL"):
                continue
            value = (environ.get(name) or "").strip()
            if value:
                values[key] = value
                origin[key] = f"environment ({name})"
                break
    url = values.pop("url", None)
    url_origin = origin.pop("url", "environment")
    level = _Level("environment", values, origin)
    if url is not None:
        derived, _ = _parse_url(url, url_origin)
        # LIBSTORE_URL names the location; the other variables still win for the rest.
        for key, value in derived.items():
            if key == "prefix" and not value:
                continue  # LIBSTORE_PREFIX may give it
            if key in ("bucket", "prefix", "provider", "base_path") or key not in level.values:
                level.values[key] = value
                level.origin[key] = url_origin
    return level


@dataclass(frozen=True, repr=False)
class StoreConfig:
    """Resolved settings: what :func:`from_url` and :func:`from_config` build.

    Attributes:
        provider: The driver's provider name (``"s3"``, ``"minio"``, ``"local"``…).
        bucket: The container everything happens in.
        prefix: The key prefix (``""`` or ending with ``/``).
        settings: Every other setting (driver options, ``endpoint_url``,
            ``profile``, ``anonymous``…).
        auto_create_bucket: Create the container on first use.
        sources: Where each setting came from (``"argument"``, ``"config file …"``,
            ``"environment (AWS_REGION)"``…).
    """

    provider: str
    bucket: str
    prefix: str
    settings: Mapping[str, Any]
    auto_create_bucket: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {_show(k, v)}" for k, v in self.settings.items())
        return (
            f"StoreConfig(provider={self.provider!r}, bucket={self.bucket!r}, "
            f"prefix={self.prefix!r}, settings={{{shown}}}, "
            f"auto_create_bucket={self.auto_create_bucket})"
        )

    def driver_kwargs(self) -> dict[str, Any]:
        """The keyword arguments the driver class is created with.

        Raises:
            ConfigError: An option the driver does not take, a value of the wrong
                type, or conflicting settings.
        """
        return _driver_kwargs(self)

    def create_driver(self) -> StorageDriver:
        """A new driver for these settings, not scoped (no request is sent)."""
        cls = get_driver(self.provider)
        return cls(**self.driver_kwargs())

    def open(self) -> ScopedDriver:
        """A new driver scoped to :attr:`bucket` and :attr:`prefix`."""
        return ScopedDriver(
            self.create_driver(), self.bucket, self.prefix, auto_create=self.auto_create_bucket
        )


def resolve(
    url: str | None = None,
    *,
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    section: str | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> StoreConfig:
    """Merge the three levels into a :class:`StoreConfig` (see the module documentation).

    Raises:
        ConfigError: Unknown options, a URL naming no bucket, conflicting values,
            no bucket anywhere, a malformed file, a missing variable.
    """
    env = os.environ if environ is None else environ
    explicit = dict(options)
    if url is not None:
        if "url" in {_canonical(k) for k in explicit}:
            raise ConfigError("the URL is given twice (positional and url=)")
        explicit["url"] = url
    levels = [_level_from("argument", explicit, strict=True)]
    if config is not None:
        if isinstance(config, Mapping):
            data = substitute_env(dict(config), env, where="config")
            if section:
                for part in section.split("."):
                    table = data.get(part) if isinstance(data, Mapping) else None
                    if not isinstance(table, Mapping):
                        raise ConfigError(f"config mapping has no table [{section}]")
                    data = dict(table)
            label = "config mapping"
        elif isinstance(config, str | os.PathLike):
            data = load_config_file(config, section=section, environ=env)
            label = f"config file {os.fspath(config)!r}"
        else:
            raise ConfigError(f"config must be a path or a mapping, not {type(config).__name__}")
        levels.append(_level_from(label, data, strict=True))
    elif section is not None:
        raise ConfigError("section= needs config=")
    levels.append(_environment_level(env))
    # Credentials and the endpoint are taken whole from the highest level giving any part.
    for group in _GROUPS:
        owner = next((lvl for lvl in levels if group & lvl.values.keys()), None)
        for level in levels:
            if level is not owner:
                for key in group:
                    level.values.pop(key, None)

    bucket_level = next((lvl for lvl in levels if lvl.values.get("bucket")), None)
    if bucket_level is None:
        raise ConfigError(
            "no bucket: pass a URL such as s3://bucket/prefix, bucket=, a config file "
            "setting bucket or url, or set LIBSTORE_URL / LIBSTORE_BUCKET"
        )
    index = levels.index(bucket_level)
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for level in reversed(levels):  # lowest first, so higher levels overwrite
        for key, value in level.values.items():
            if key in ("bucket", "prefix", "base_path"):
                continue
            merged[key] = value
            sources[key] = level.origin.get(key, level.label)
    bucket = bucket_level.values["bucket"]
    sources["bucket"] = bucket_level.origin.get("bucket", bucket_level.label)
    prefix: Any = ""
    for level in levels[: index + 1]:
        if level.values.get("prefix") not in (None, ""):
            prefix = level.values["prefix"]
            sources["prefix"] = level.origin.get("prefix", level.label)
            break
    for level in levels[: index + 1]:
        if "base_path" in level.values:
            merged["base_path"] = level.values["base_path"]
            sources["base_path"] = level.origin.get("base_path", level.label)
            break
    if not isinstance(bucket, str):
        raise ConfigError(f"bucket must be a str, not {bucket!r}")
    provider = merged.pop("provider", "s3")
    sources.setdefault("provider", "default")
    if not isinstance(provider, str) or provider not in registered_drivers():
        raise ConfigError(f"unknown provider {provider!r} (from {sources['provider']})")
    auto_create = _as_bool(merged.pop("auto_create_bucket", False), "auto_create_bucket", sources)
    try:
        prefix = normalize_prefix(prefix)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{exc} (from {sources.get('prefix', 'argument')})") from None
    config_result = StoreConfig(
        provider=provider,
        bucket=bucket,
        prefix=prefix,
        settings=merged,
        auto_create_bucket=auto_create,
        sources=sources,
        environ=environ,
    )
    config_result.driver_kwargs()  # every option checked now, before any request
    return config_result


def from_url(url: str, **options: Any) -> ScopedDriver:
    """A driver scoped to the bucket and key prefix ``url`` names.

    Accepted URLs:

    * ``s3://bucket/prefix`` (also ``s3a://`` and ``s3n://``): Amazon S3, or the
      endpoint of ``endpoint_url`` / ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``;
    * ``https://s3.<region>.amazonaws.com/bucket/prefix``,
      ``https://bucket.s3.<region>.amazonaws.com/prefix`` and their dual-stack, FIPS
      and Transfer Acceleration forms;
    * ``https://<account>.r2.cloudflarestorage.com/bucket/prefix`` (Cloudflare R2);
    * ``http(s)://host[:port]/bucket/prefix``: any other S3-compatible endpoint,
      path-style;
    * ``<provider>://bucket/prefix`` for the providers of :func:`libstore.get_driver`
      (``minio://``, ``seaweedfs://``, ``wasabi://``…, ``r2://``, ``gs://``);
    * ``file:///base/dir/container``: the local driver, container ``container`` in
      ``/base/dir``.

    A query string adds settings (``s3://bucket?region=eu-west-1&endpoint_url=…``),
    never credentials.

    Args:
        url: The URL.
        **options: Settings: ``prefix``, ``region``, ``endpoint_url``, ``profile``,
            ``anonymous``, ``auto_create_bucket``, ``key``/``secret``/``token`` (or
            their boto3 spellings), any keyword argument of the driver class;
            ``config=`` (a file or mapping) and ``section=`` add the file level;
            ``environ=`` replaces ``os.environ``.

    Raises:
        ConfigError: Bad input, before any request: unknown options, a URL that names
            no bucket, conflicting settings.
    """
    return resolve(url, **options).open()


def from_config(
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    section: str | None = None,
    **options: Any,
) -> ScopedDriver:
    """A scoped driver from a configuration file or mapping, the environment and options.

    The file (TOML, YAML or JSON) or mapping holds the same settings as
    :func:`from_url`'s options, ``url`` included; ``section`` picks a table.

    Raises:
        ConfigError: See :func:`from_url`.
    """
    return resolve(config=config, section=section, **options).open()


# --------------------------------------------------------------------------
# Driver arguments
# --------------------------------------------------------------------------


def _driver_kwargs(config: StoreConfig) -> dict[str, Any]:
    import inspect

    cls = get_driver(config.provider)
    parameters = {
        name: param
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
        and param.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
    settings = dict(config.settings)
    sources = config.sources
    kwargs: dict[str, Any] = {}
    is_local = config.provider == "local"
    base_path = settings.pop("base_path", None)
    if is_local:
        if base_path is None:
            raise ConfigError(
                "the local provider needs base_path= (or a file:///dir/container URL)"
            )
        kwargs["key"] = base_path
        accepted = (set(parameters) - {"key", "secret", "token", "secure", "host", "port"}) | {
            "base_path"
        }
    elif base_path is not None:
        raise ConfigError(f"base_path applies to the local provider, not {config.provider!r}")
    else:
        _s3_arguments(config.provider, settings, sources, kwargs, config.environ)
        accepted = set(parameters) | (_OWN_SETTINGS - {"base_path"})
    for key, value in settings.items():
        param = parameters.get(key)
        if param is None or key not in accepted:
            if sources.get(key, "").startswith("environment"):
                continue  # e.g. AWS_REGION with a file:// URL: not meant for this provider
            raise ConfigError(
                f"unknown option {key!r} (from {sources.get(key, 'argument')}) for the "
                f"{config.provider!r} provider; accepted: {', '.join(sorted(accepted))}"
            )
        kwargs[key] = _coerce(key, value, str(param.annotation), sources)
    return kwargs


def _s3_arguments(
    provider: str,
    settings: dict[str, Any],
    sources: Mapping[str, str],
    kwargs: dict[str, Any],
    environ: Mapping[str, str] | None,
) -> None:
    endpoint = settings.pop("endpoint_url", None)
    if endpoint is not None and endpoint is not _PROVIDER_ENDPOINT:
        for clash in ("host", "port"):
            if clash in settings:
                raise ConfigError(
                    f"endpoint_url (from {sources.get('endpoint_url')}) and {clash} (from "
                    f"{sources.get(clash)}) both set the endpoint; keep one"
                )
        if not isinstance(endpoint, str):
            raise ConfigError(f"endpoint_url must be a URL, not {endpoint!r}")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"endpoint_url {endpoint!r} (from {sources.get('endpoint_url')}) must be "
                "http(s)://host[:port]"
            )
        if parts.path not in ("", "/") or parts.query or parts.username is not None:
            raise ConfigError(
                f"endpoint_url {endpoint!r} must not have a path, query or user; the bucket "
                "goes in the URL or bucket="
            )
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"endpoint_url {endpoint!r} has an invalid port") from None
        kwargs["host"] = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        kwargs["secure"] = parts.scheme == "https"
        if "secure" in settings and _as_bool(settings["secure"], "secure", sources) != (
            parts.scheme == "https"
        ):
            rank, endpoint_rank = _rank(sources.get("secure")), _rank(sources.get("endpoint_url"))
            if rank == endpoint_rank:
                raise ConfigError(f"secure contradicts the scheme of endpoint_url {endpoint!r}")
            if rank < endpoint_rank:  # a higher level says otherwise: it wins
                kwargs["secure"] = not kwargs["secure"]
        settings.pop("secure", None)
        if port is not None:
            kwargs["port"] = port
    profile = settings.pop("profile", None)
    anonymous = _as_bool(settings.pop("anonymous", False), "anonymous", sources)
    has_keys = any(k in settings for k in ("key", "secret", "token"))
    given = [
        name
        for name, present in (
            ("key/secret", has_keys),
            ("profile", profile is not None),
            ("anonymous", anonymous),
            ("credentials", "credentials" in settings),
        )
        if present
    ]
    if len(given) > 1:
        raise ConfigError(f"credentials are given more than once: {', '.join(given)}; keep one")
    if anonymous:
        from libstore.credentials import ANONYMOUS

        kwargs["credentials"] = ANONYMOUS
    elif profile is not None or (environ is not None and not given):
        from libstore.credentials import default_chain

        if profile is not None and not isinstance(profile, str):
            raise ConfigError(f"profile must be a str, not {profile!r}")
        kwargs["credentials"] = default_chain(profile, environ=environ)
    if provider == "s3" and "region" not in settings and endpoint in (None, _PROVIDER_ENDPOINT):
        region = _profile_region(profile, environ)
        if region is not None:
            settings["region"] = region


def _profile_region(profile: str | None, environ: Mapping[str, str] | None) -> str | None:
    """The ``region`` of the AWS profile in ``~/.aws/config``, if any."""
    from libstore.credentials import CredentialsError, read_shared_config

    env = os.environ if environ is None else environ
    name = profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    try:
        files = read_shared_config(environ=env)
    except CredentialsError:
        return None
    settings = files.config.get(name) or {}
    region = settings.get("region")
    return region or None


def _rank(source: str | None) -> int:
    """0 for arguments, 1 for a config file or mapping, 2 for the environment."""
    if source is None or source.startswith("argument"):
        return 0
    return 2 if source.startswith("environment") else 1


def _as_bool(value: Any, key: str, sources: Mapping[str, str]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(
        f"{key} (from {sources.get(key, 'argument')}) must be true or false, not {value!r}"
    )


def _coerce(key: str, value: Any, annotation: str, sources: Mapping[str, str]) -> Any:
    """Turn a text value (environment, URL query, file) into the option's type."""
    if not isinstance(value, str):
        return value
    kinds = {part.strip().split("[")[0] for part in annotation.replace("'", "").split("|")}
    text = value.strip()
    where = f"{key} (from {sources.get(key, 'argument')})"
    if "bool" in kinds and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if "int" in kinds:
        try:
            return int(text)
        except ValueError:
            if not kinds & {"str", "Literal", "float"}:
                raise ConfigError(f"{where} must be an integer, not {value!r}") from None
    if "float" in kinds:
        try:
            return float(text)
        except ValueError:
            if not kinds & {"str", "Literal"}:
                raise ConfigError(f"{where} must be a number, not {value!r}") from None
    if kinds & {"str", "Literal", "Any", "inspect._empty"}:
        return value
    if "bool" in kinds:
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    raise ConfigError(f"{where} cannot be given as text ({annotation})")
