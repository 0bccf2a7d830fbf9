"""What the command line's URLs and paths name, and the drivers that serve them.

Accepted forms:

* ``s3://bucket/key`` and every other scheme :func:`libstore.from_url` knows
  (``s3a://``, ``minio://``, ``seaweedfs://``, ``wasabi://``, ``r2://``… one per
  registered provider), ``s3://`` alone for "all buckets";
* ``local://container/key``: the embedded local driver under ``--local-root`` /
  ``LIBSTORE_LOCAL_ROOT`` / the config file's ``local_root``;
* ``file:///path`` and plain paths: the local file system;
* ``-``: standard input or output.

Store drivers are built by the SDK's own configuration, :func:`libstore.config.resolve`
(the engine of :func:`libstore.from_url`), from three levels: the command-line flags,
then the selected table of the CLI's config file (TOML; ``--config``,
``LIBSTORE_CONFIG`` or ``~/.config/libstore/config.toml``), then the environment
(``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``LIBSTORE_*``…).
Credentials not given by the flags or the file come from the SDK's credential
chain (environment, ``~/.aws`` shared files and profiles, web identity, container
and instance credentials).
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libstore import Provider, StorageDriver, get_driver, registered_drivers
from libstore.cli._errors import EXIT_NOT_FOUND, CliError, UsageError
from libstore.config import ConfigError, resolve

__all__ = [
    "FileLoc",
    "Location",
    "Resolver",
    "Settings",
    "StdioLoc",
    "StoreLoc",
]

LOCAL_SCHEME = "local"
#: Schemes :func:`libstore.config.resolve` maps to a provider besides the provider names.
_EXTRA_SCHEMES = {"s3a": "s3", "s3n": "s3", "r2": "cloudflare_r2", "gs": "google_storage"}
#: A bucket name handed to the SDK's configuration only to build an unscoped driver.
_ANY_BUCKET = "libstore-cli-any-bucket"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(.*)$", re.DOTALL)


def store_schemes() -> list[str]:
    """Every store URL scheme: the registered providers' names and their aliases."""
    providers = registered_drivers()
    names = {name for name in providers if re.fullmatch(r"[a-z][a-z0-9+.\-]*", name)}
    names |= {alias for alias, provider in _EXTRA_SCHEMES.items() if provider in providers}
    return sorted(names | {LOCAL_SCHEME})


@dataclass(frozen=True)
class Settings:
    """The connection settings given on the command line (``None``: not given)."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    config_file: str | None = None
    local_root: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    no_verify_ssl: bool = False


@dataclass(frozen=True)
class FileLoc:
    """A path on the local file system."""

    text: str
    path: str
    #: The argument ended with a separator: it must be (or become) a directory.
    dir_hint: bool

    def display(self) -> str:
        return self.text


@dataclass(frozen=True)
class StdioLoc:
    """``-``: standard input as a source, standard output as a destination."""

    text: str = "-"

    def display(self) -> str:
        return "-"


@dataclass(frozen=True)
class StoreLoc:
    """A bucket (container) of a store, and a key or prefix in it."""

    text: str
    scheme: str
    container: str
    key: str
    resolver: Resolver = field(compare=False, repr=False)

    def url(self, key: str | None = None) -> str:
        name = self.key if key is None else key
        return f"{self.scheme}://{self.container}/{name}" if self.container else f"{self.scheme}://"

    def display(self) -> str:
        return self.url()

    def driver(self) -> StorageDriver:
        return self.resolver.driver(self.scheme)

    def need_container(self) -> str:
        if not self.container:
            raise UsageError(f"{self.text!r} names no bucket; expected {self.scheme}://BUCKET/KEY")
        return self.container


Location = FileLoc | StdioLoc | StoreLoc


class Resolver:
    """Parses locations and builds (and caches) one driver per scheme."""

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self._drivers: dict[str, StorageDriver] = {}
        self._profile_cache: tuple[dict[str, Any], str | None] | None = None
        #: Secret values seen while building drivers, for redaction of debug output.
        self.secrets: set[str] = set()

    # -- parsing ----------------------------------------------------------------------------

    def parse(self, text: str) -> Location:
        """Say what ``text`` names.

        Raises:
            UsageError: The URL is malformed or its scheme is unknown.
        """
        if text == "":
            raise UsageError("an empty string is not a path or URL")
        if "\x00" in text:
            raise UsageError("a path or URL cannot contain a NUL character")
        if text == "-":
            return StdioLoc()
        match = _SCHEME.match(text)
        if match is None or len(match.group(1)) == 1:  # "C:..." is a Windows drive
            return FileLoc(text, text, text.endswith(("/", os.sep)))
        scheme, rest = match.group(1).lower(), match.group(2)
        schemes = store_schemes()
        if not rest.startswith("//"):
            if scheme in (*schemes, "file"):
                raise UsageError(f"malformed URL {text!r}: expected {scheme}://BUCKET/KEY")
            return FileLoc(text, text, text.endswith(("/", os.sep)))  # "a:b" is a file name
        if scheme == "file":
            parts = urllib.parse.urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise UsageError(
                    f"malformed URL {text!r}: file:// URLs name local paths "
                    "(file:///absolute/path), not hosts"
                )
            if parts.query or parts.fragment:
                raise UsageError(f"malformed URL {text!r}: file:// URLs take no '?' or '#' part")
            path = urllib.parse.unquote(parts.path)
            if not path:
                raise UsageError(f"malformed URL {text!r}: it names no path")
            return FileLoc(text, path, path.endswith("/"))
        if scheme not in schemes:
            known = ", ".join(f"{s}://" for s in (*schemes, "file"))
            raise UsageError(f"unknown URL scheme {scheme!r} in {text!r}; supported: {known}")
        container, _, key = rest[2:].partition("/")
        if not container and key:
            raise UsageError(f"malformed URL {text!r}: no bucket name before the key")
        return StoreLoc(text, scheme, container, key, self)

    # -- configuration ----------------------------------------------------------------------

    def _config_path(self) -> tuple[str, bool]:
        explicit = self.settings.config_file or self.environ.get("LIBSTORE_CONFIG")
        if explicit:
            return explicit, True
        home = self.environ.get("XDG_CONFIG_HOME") or os.path.join(
            self.environ.get("HOME", os.path.expanduser("~")), ".config"
        )
        return os.path.join(home, "libstore", "config.toml"), False

    def _profile(self) -> tuple[dict[str, Any], str | None]:
        """The config file's table for the profile, and the AWS profile to use, if any.

        ``--profile NAME`` (or ``LIBSTORE_PROFILE``) selects the table ``[NAME]`` of the
        config file when it has one, and otherwise names an AWS profile of the shared
        files (``~/.aws/credentials``, ``~/.aws/config``), as with the AWS CLI.
        """
        if self._profile_cache is not None:
            return self._profile_cache
        path, explicit = self._config_path()
        data: dict[str, Any] = {}
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            if explicit:
                raise CliError(f"config file {path!r} does not exist", EXIT_NOT_FOUND) from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config file {path!r} is not valid TOML: {exc}") from None
        chosen = self.settings.profile or self.environ.get("LIBSTORE_PROFILE")
        name = chosen or "default"
        table = data.get(name)
        if table is not None and not isinstance(table, dict):
            raise UsageError(f"config file {path!r}: [{name}] must be a table")
        aws_profile = chosen if table is None else None
        self._profile_cache = (dict(table or {}), aws_profile)
        return self._profile_cache

    def _setting(self, key: str, env_names: tuple[str, ...]) -> str | None:
        flag = getattr(self.settings, key, None)
        if flag:
            return str(flag)
        value = self._profile()[0].get(key)
        if value:
            return str(value)
        for env in env_names:
            if self.environ.get(env):
                return self.environ[env]
        return None

    # -- drivers ----------------------------------------------------------------------------

    def driver(self, scheme: str) -> StorageDriver:
        """The driver for ``scheme``, built once."""
        if scheme not in self._drivers:
            self._drivers[scheme] = (
                self._local_driver() if scheme == LOCAL_SCHEME else self._store_driver(scheme)
            )
        return self._drivers[scheme]

    def local_root(self) -> str:
        root = self._setting("local_root", ("LIBSTORE_LOCAL_ROOT",))
        if not root:
            raise UsageError(
                "local:// URLs need a base directory: pass --local-root DIR or set "
                "LIBSTORE_LOCAL_ROOT"
            )
        return os.path.expanduser(root)

    def _local_driver(self) -> StorageDriver:
        root = self.local_root()
        if not os.path.isdir(root):
            if os.path.exists(root):
                raise UsageError(f"local root {root!r} is not a directory")
            raise CliError(f"local root {root!r} does not exist (mb creates it)", EXIT_NOT_FOUND)
        return get_driver(Provider.LOCAL)(root)

    def _store_driver(self, scheme: str) -> StorageDriver:
        s = self.settings
        options: dict[str, Any] = {}
        if s.endpoint_url:
            options["endpoint_url"] = s.endpoint_url
        if s.region:
            options["region"] = s.region
        if s.no_verify_ssl:
            options["verify"] = False
        table, aws_profile = self._profile()
        table = {k: v for k, v in table.items() if k != "local_root"}
        if s.access_key_id or s.secret_access_key:
            if not (s.access_key_id and s.secret_access_key):
                raise UsageError("--access-key-id and --secret-access-key go together")
            options.update(key=s.access_key_id, secret=s.secret_access_key)
            for name in (
                "profile",
                "key",
                "secret",
                "token",
                "access_key_id",
                "secret_access_key",
                "session_token",
                "aws_access_key_id",
                "aws_secret_access_key",
                "aws_session_token",
            ):
                table.pop(name, None)  # the flags' credentials replace the file's
        elif aws_profile is not None:
            options["profile"] = aws_profile
        try:
            config = resolve(
                f"{scheme}://{_ANY_BUCKET}",
                config=table or None,
                environ=self.environ,
                **options,
            )
            driver = config.create_driver()
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        for name in ("secret", "token"):
            value = config.settings.get(name)
            if isinstance(value, str) and value:
                self.secrets.add(value)
        return driver

    def close(self) -> None:
        for driver in self._drivers.values():
            close = getattr(driver, "close", None)
            if callable(close):
                close()
