"""What the command line's URLs and paths name, and the drivers that serve them.

Interim: when ``libstore.from_url`` and the SDK's configuration (issue 4) land, the
``Resolver`` below should build its drivers through them and this module shrinks to
:func:`parse` plus the location classes.

Accepted forms:

* ``s3://bucket/key`` (also ``minio://`` and ``seaweedfs://``, the S3 driver's
  presets, which need an endpoint), ``s3://`` alone for "all buckets";
* ``local://container/key``: the embedded local driver under ``--local-root`` /
  ``LIBSTORE_LOCAL_ROOT``;
* ``file:///path`` and plain paths: the local file system;
* ``-``: standard input or output.

Settings come from, first to last: command-line flags, the libstore config file
(TOML; ``--config``, ``LIBSTORE_CONFIG`` or ``~/.config/libstore/config.toml``,
one table per profile), the environment (``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``LIBSTORE_LOCAL_ROOT``) and
last the AWS CLI's shared files (``~/.aws/credentials`` and ``~/.aws/config``).
Credentials are taken as a whole from the first source that has an access key.
"""

from __future__ import annotations

import configparser
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libstore import Provider, StorageDriver, get_driver
from libstore.cli._errors import EXIT_NOT_FOUND, CliError, UsageError

__all__ = [
    "FileLoc",
    "Location",
    "Resolver",
    "Settings",
    "StdioLoc",
    "StoreLoc",
]

#: URL schemes served by the S3 driver family, and their provider names.
S3_SCHEMES: dict[str, str] = {
    "s3": Provider.S3,
    "minio": Provider.MINIO,
    "seaweedfs": Provider.SEAWEEDFS,
}
LOCAL_SCHEME = "local"
STORE_SCHEMES = (*S3_SCHEMES, LOCAL_SCHEME)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(.*)$", re.DOTALL)
_PROFILE_KEYS = frozenset(
    {
        "endpoint_url",
        "region",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "local_root",
        "verify_ssl",
    }
)


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
        self._profile_cache: dict[str, Any] | None = None
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
        if not rest.startswith("//"):
            if scheme in (*STORE_SCHEMES, "file"):
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
        if scheme not in STORE_SCHEMES:
            known = ", ".join(f"{s}://" for s in (*STORE_SCHEMES, "file"))
            raise UsageError(f"unknown URL scheme {scheme!r} in {text!r}; supported: {known}")
        container, _, key = rest[2:].partition("/")
        if not container and key:
            raise UsageError(f"malformed URL {text!r}: no bucket name before the key")
        return StoreLoc(text, scheme, container, key, self)

    # -- configuration ----------------------------------------------------------------------

    def _profile_name(self) -> tuple[str, bool]:
        for value in (
            self.settings.profile,
            self.environ.get("LIBSTORE_PROFILE"),
            self.environ.get("AWS_PROFILE"),
        ):
            if value:
                return value, True
        return "default", False

    def _config_profile(self) -> dict[str, Any]:
        """The selected profile's table of the libstore config file ({} when none)."""
        if self._profile_cache is not None:
            return self._profile_cache
        explicit = self.settings.config_file or self.environ.get("LIBSTORE_CONFIG")
        if explicit:
            path = explicit
        else:
            home = self.environ.get("XDG_CONFIG_HOME") or os.path.join(
                self.environ.get("HOME", os.path.expanduser("~")), ".config"
            )
            path = os.path.join(home, "libstore", "config.toml")
        data: dict[str, Any] = {}
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            if explicit:
                raise CliError(f"config file {path!r} does not exist", EXIT_NOT_FOUND) from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config file {path!r} is not valid TOML: {exc}") from None
        name, chosen = self._profile_name()
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise UsageError(f"config file {path!r}: [{name}] must be a table")
        unknown = sorted(set(table) - _PROFILE_KEYS)
        if unknown:
            raise UsageError(
                f"config file {path!r}: unknown setting(s) {', '.join(unknown)} in [{name}]; "
                f"known: {', '.join(sorted(_PROFILE_KEYS))}"
            )
        if chosen and not table and not self._aws_section(name):
            raise UsageError(f"profile {name!r} is not defined in {path!r} or the AWS files")
        self._profile_cache = table
        return table

    def _aws_section(self, name: str) -> dict[str, str]:
        """The AWS CLI's settings for profile ``name`` (credentials file over config)."""
        home = self.environ.get("HOME", os.path.expanduser("~"))
        files = (
            (self.environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config"), True),
            (
                self.environ.get("AWS_SHARED_CREDENTIALS_FILE")
                or os.path.join(home, ".aws", "credentials"),
                False,
            ),
        )
        merged: dict[str, str] = {}
        for path, is_config in files:
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot parse {path!r}: {exc}") from None
            section = f"profile {name}" if is_config and name != "default" else name
            if parser.has_section(section):
                merged.update(parser.items(section))
        return merged

    def _setting(self, key: str, env_names: tuple[str, ...], aws_key: str | None) -> str | None:
        flag = getattr(self.settings, key, None)
        if flag:
            return str(flag)
        value = self._config_profile().get(key)
        if value:
            return str(value)
        for env in env_names:
            if self.environ.get(env):
                return self.environ[env]
        if aws_key:
            return self._aws_section(self._profile_name()[0]).get(aws_key) or None
        return None

    def _credentials(self) -> tuple[str, str, str | None] | None:
        s = self.settings
        if s.access_key_id or s.secret_access_key:
            if not (s.access_key_id and s.secret_access_key):
                raise UsageError("--access-key-id and --secret-access-key go together")
            return s.access_key_id, s.secret_access_key, None
        table = self._config_profile()
        if table.get("access_key_id"):
            return (
                str(table["access_key_id"]),
                str(table.get("secret_access_key", "")),
                table.get("session_token"),
            )
        env = self.environ
        if env.get("AWS_ACCESS_KEY_ID"):
            return (
                env["AWS_ACCESS_KEY_ID"],
                env.get("AWS_SECRET_ACCESS_KEY", ""),
                env.get("AWS_SESSION_TOKEN") or None,
            )
        aws = self._aws_section(self._profile_name()[0])
        if aws.get("aws_access_key_id"):
            return (
                aws["aws_access_key_id"],
                aws.get("aws_secret_access_key", ""),
                aws.get("aws_session_token") or None,
            )
        return None

    # -- drivers ----------------------------------------------------------------------------

    def driver(self, scheme: str) -> StorageDriver:
        """The driver for ``scheme``, built once."""
        if scheme not in self._drivers:
            self._drivers[scheme] = (
                self._local_driver() if scheme == LOCAL_SCHEME else self._s3_driver(scheme)
            )
        return self._drivers[scheme]

    def local_root(self) -> str:
        root = self._setting("local_root", ("LIBSTORE_LOCAL_ROOT",), None)
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

    def _s3_driver(self, scheme: str) -> StorageDriver:
        endpoint = self._setting("endpoint_url", ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), None)
        region = (
            self._setting("region", ("AWS_REGION", "AWS_DEFAULT_REGION"), "region") or "us-east-1"
        )
        if endpoint is None:
            endpoint = self._aws_section(self._profile_name()[0]).get("endpoint_url")
        creds = self._credentials()
        if creds is None or not creds[1]:
            raise UsageError(
                f"no credentials for {scheme}://: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or use a profile (--profile) of the config file"
            )
        key, secret, token = creds
        self.secrets.update(v for v in (secret, token) if v)
        options: dict[str, Any] = {"region": region, "token": token}
        if endpoint:
            parts = urllib.parse.urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(
                    f"invalid endpoint URL {endpoint!r}: expected http(s)://HOST[:PORT]"
                )
            if parts.path not in ("", "/") or parts.query:
                raise UsageError(f"invalid endpoint URL {endpoint!r}: it must not have a path")
            try:
                port = parts.port
            except ValueError:
                raise UsageError(f"invalid endpoint URL {endpoint!r}: bad port") from None
            options.update(host=parts.hostname, port=port, secure=parts.scheme == "https")
        elif scheme != "s3":
            raise UsageError(f"{scheme}:// URLs need an endpoint: pass --endpoint-url URL")
        verify = self._config_profile().get("verify_ssl", True)
        if self.settings.no_verify_ssl or verify is False:
            options["verify"] = False
        cls: Any = get_driver(S3_SCHEMES[scheme])
        driver: StorageDriver = cls(key, secret, **options)
        return driver

    def close(self) -> None:
        for driver in self._drivers.values():
            close = getattr(driver, "close", None)
            if callable(close):
                close()
