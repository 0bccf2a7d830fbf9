"""from_url / from_config: URL forms, the three levels, files, substitution, scoping."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import responses

import libstore
from libstore.base import Container
from libstore.config import (
    ENVIRONMENT_VARIABLES,
    ConfigError,
    StoreConfig,
    from_config,
    from_url,
    load_config_file,
    register_url_scheme,
    resolve,
    substitute_env,
)
from libstore.credentials import ANONYMOUS, CredentialChain
from libstore.drivers.local import LocalStorageDriver
from libstore.drivers.s3 import S3StorageDriver
from libstore.scoped import ScopedDriver, normalize_prefix
from libstore.types import (
    ContainerDoesNotExistError,
    InvalidArgumentError,
    InvalidObjectNameError,
    NotSupportedError,
    ObjectDoesNotExistError,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("AWS_", "LIBSTORE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def no_requests() -> Any:
    """Fails the test if anything is sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        assert not mock.calls


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- URL forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "provider", "bucket", "prefix", "kwargs"),
    [
        ("s3://bkt", "s3", "bkt", "", {}),
        ("s3://bkt/", "s3", "bkt", "", {}),
        ("s3://bkt/a/b", "s3", "bkt", "a/b/", {}),
        ("s3a://bkt/a/b/", "s3", "bkt", "a/b/", {}),
        ("s3n://bkt/x%20y", "s3", "bkt", "x y/", {}),
        ("https://s3.eu-west-1.amazonaws.com/bkt/p", "s3", "bkt", "p/", {"region": "eu-west-1"}),
        ("https://s3.amazonaws.com/bkt", "s3", "bkt", "", {"region": "us-east-1"}),
        (
            "https://bkt.s3.eu-west-1.amazonaws.com/p/q",
            "s3",
            "bkt",
            "p/q/",
            {"region": "eu-west-1"},
        ),
        (
            "https://my.dotted.bkt.s3.us-east-2.amazonaws.com",
            "s3",
            "my.dotted.bkt",
            "",
            {"region": "us-east-2"},
        ),
        ("https://bkt.s3-eu-west-1.amazonaws.com/", "s3", "bkt", "", {"region": "eu-west-1"}),
        (
            "https://s3.dualstack.ap-south-1.amazonaws.com/bkt",
            "s3",
            "bkt",
            "",
            {"region": "ap-south-1", "dualstack": True},
        ),
        (
            "https://bkt.s3-fips.us-gov-west-1.amazonaws.com",
            "s3",
            "bkt",
            "",
            {"region": "us-gov-west-1", "fips": True},
        ),
        ("https://bkt.s3-accelerate.amazonaws.com/x", "s3", "bkt", "x/", {"accelerate": True}),
        ("https://s3.cn-north-1.amazonaws.com.cn/bkt", "s3", "bkt", "", {"region": "cn-north-1"}),
        (
            "https://0123abcd.r2.cloudflarestorage.com/bkt/p",
            "cloudflare_r2",
            "bkt",
            "p/",
            {"account": "0123abcd", "region": "auto"},
        ),
        (
            "https://0123abcd.eu.r2.cloudflarestorage.com/bkt",
            "cloudflare_r2",
            "bkt",
            "",
            {"account": "0123abcd", "region": "eu"},
        ),
        (
            "http://127.0.0.1:9000/bkt/p",
            "s3",
            "bkt",
            "p/",
            {"host": "127.0.0.1", "port": 9000, "secure": False, "addressing_style": "path"},
        ),
        (
            "https://minio.example.com/bkt",
            "s3",
            "bkt",
            "",
            {"host": "minio.example.com", "secure": True, "addressing_style": "path"},
        ),
        ("wasabi://bkt/p", "wasabi", "bkt", "p/", {}),
        (
            "s3://bkt?region=ap-east-1&dualstack=true",
            "s3",
            "bkt",
            "",
            {"region": "ap-east-1", "dualstack": True},
        ),
    ],
)
def test_url_forms(
    url: str, provider: str, bucket: str, prefix: str, kwargs: dict[str, Any], no_requests: Any
) -> None:
    config = resolve(url, environ={})
    assert (config.provider, config.bucket, config.prefix) == (provider, bucket, prefix)
    driver_kwargs = config.driver_kwargs()
    driver_kwargs.pop("credentials")
    assert driver_kwargs == kwargs


def test_minio_scheme_with_an_endpoint(no_requests: Any) -> None:
    store = from_url("minio://bkt/p", endpoint_url="http://127.0.0.1:9000", key="k", secret="s")
    assert isinstance(store.driver, S3StorageDriver)
    assert store.driver.preset.name == "minio"
    assert (store.driver.host, store.driver.port, store.driver.secure) == ("127.0.0.1", 9000, False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("https://s3.amazonaws.com/", "names no bucket"),
        ("https://s3.eu-west-1.amazonaws.com", "names no bucket"),
        ("http://localhost:9000", "names no bucket"),
        ("ftp://bkt/x", "unknown URL scheme 'ftp'"),
        ("bucket/prefix", "is not a URL"),
        ("s3://bkt#frag", "'#'"),
        ("s3://bkt?secret_access_key=x", "carries credentials"),
        ("s3://bkt?token=x", "carries credentials"),
        ("https://user:pw@minio.local/bkt", "must not carry credentials"),
        ("file:///", "names no container"),
        ("file://host/dir/c", "local path"),
    ],
)
def test_bad_urls(url: str, message: str, no_requests: Any) -> None:
    with pytest.raises(ConfigError, match=message):
        from_url(url, environ={})


def test_config_errors_are_invalid_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        from_url("s3://", environ={})
    with pytest.raises(libstore.LibstoreError):
        from_url("s3://", environ={})


def test_file_url_gives_a_local_driver(tmp_path: Path) -> None:
    (tmp_path / "store" / "photos").mkdir(parents=True)
    store = from_url(f"file://{tmp_path}/store/photos", prefix="2026", environ={})
    assert isinstance(store.driver, LocalStorageDriver)
    assert store.container_name == "photos"
    assert store.prefix == "2026/"


def test_environment_settings_do_not_break_a_file_url(tmp_path: Path) -> None:
    (tmp_path / "store" / "c").mkdir(parents=True)
    env = {"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://minio:9000"}
    store = from_url(f"file://{tmp_path}/store/c", environ=env)
    assert isinstance(store.driver, LocalStorageDriver)
    with pytest.raises(ConfigError, match="unknown option 'region'"):
        from_url(f"file://{tmp_path}/store/c", region="eu-west-1", environ={})


def test_registered_schemes(no_requests: Any) -> None:
    def parse(url: str) -> dict[str, Any]:
        return {"provider": "s3", "bucket": url.split("://")[1], "region": "eu-north-1"}

    register_url_scheme("mystore", parse)
    try:
        assert resolve("mystore://bkt", environ={}).settings["region"] == "eu-north-1"
        with pytest.raises(ValueError, match="registered"):
            register_url_scheme("mystore", parse)
    finally:
        from libstore import config as config_module

        config_module._url_schemes.pop("mystore")


# -- options --------------------------------------------------------------------------------


def test_unknown_options_fail_before_any_request(no_requests: Any) -> None:
    with pytest.raises(ConfigError, match="unknown option 'regoin'") as info:
        from_url("s3://bkt", regoin="eu-west-1", environ={})
    assert "region" in str(info.value)  # the accepted names are listed


def test_aliases_and_coercion(no_requests: Any) -> None:
    config = resolve(
        "s3://bkt",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
        region_name="eu-west-1",
        endpoint="http://127.0.0.1:9000",
        environ={"LIBSTORE_AUTO_CREATE_BUCKET": "yes"},
    )
    kwargs = config.driver_kwargs()
    assert kwargs["key"] == "AKID"
    assert kwargs["region"] == "eu-west-1"
    assert config.auto_create_bucket is True
    typed = resolve("s3://bkt?port=9001&max_attempts=2&read_timeout=1.5&verify=false", environ={})
    typed_kwargs = typed.driver_kwargs()
    assert (typed_kwargs["port"], typed_kwargs["max_attempts"]) == (9001, 2)
    assert typed_kwargs["read_timeout"] == 1.5
    assert typed_kwargs["verify"] is False
    assert resolve("s3://bkt?verify=/etc/ca.pem", environ={}).driver_kwargs()["verify"] == (
        "/etc/ca.pem"
    )


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("s3://bkt?port=eighty", {}, "port .* must be an integer"),
        ("s3://bkt?dualstack=maybe", {}, "true or false"),
        ("s3://bkt?auto_create_bucket=2", {}, "true or false"),
        ("s3://bkt", {"transfer": "big"}, "cannot be given as text"),
        ("s3://bkt/a", {"prefix": "b"}, "says prefix='a' but prefix='b'"),
        ("s3://bkt", {"bucket": "other"}, "bucket"),
        ("https://s3.eu-west-1.amazonaws.com/bkt", {"region": "us-east-1"}, "region"),
        ("s3://bkt", {"key": "a", "secret": "b", "anonymous": True}, "more than once"),
        ("s3://bkt", {"profile": "p", "key": "a", "secret": "b"}, "more than once"),
        ("s3://bkt", {"endpoint_url": "minio:9000"}, "http\\(s\\)://host"),
        ("s3://bkt", {"endpoint_url": "http://minio:9000/base"}, "without|must not have a path"),
        ("s3://bkt", {"endpoint_url": "http://h:9000", "host": "h"}, "keep one"),
        ("s3://bkt", {"endpoint_url": "https://h", "secure": False}, "contradicts"),
        ("s3://bkt", {"base_path": "/tmp"}, "local provider"),
        ("s3://bkt", {"provider": "nope"}, "unknown provider 'nope'"),
        ("s3://bkt", {"prefix": "a/../b"}, r"'\.\.' segment"),
        ("s3://bkt", {"profile": 5}, "profile must be a str"),
    ],
)
def test_bad_options(url: str, options: dict[str, Any], message: str, no_requests: Any) -> None:
    with pytest.raises(ConfigError, match=message):
        from_url(url, environ={}, **options)


def test_credentials_settings(tmp_path: Path, no_requests: Any) -> None:
    static = from_url("s3://bkt", key="AKID", secret="s", token="t", environ={})
    assert static.driver.get_credentials().token == "t"  # type: ignore[attr-defined, union-attr]
    anonymous = from_url("s3://bkt", anonymous=True, environ={})
    assert anonymous.driver.anonymous  # type: ignore[attr-defined]
    assert (
        resolve("s3://bkt", skip_signature="true", environ={}).driver_kwargs()["credentials"]
        is ANONYMOUS
    )
    write(tmp_path / "creds", "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = s\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds"), "AWS_ACCESS_KEY_ID": "ENV"}
    profiled = from_url("s3://bkt", profile="ci", environ=env)
    assert profiled.driver.get_credentials().access_key == "AKIDCI"  # type: ignore[attr-defined, union-attr]
    chain = resolve("s3://bkt", environ=env).driver_kwargs()["credentials"]
    assert isinstance(chain, CredentialChain)


def test_profile_region_is_the_last_resort(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "config", "[default]\nregion = eu-central-1\n[profile x]\nregion = sa-east-1\n"
    )
    env = {"AWS_CONFIG_FILE": str(config_file)}
    assert resolve("s3://bkt", environ=env).driver_kwargs()["region"] == "eu-central-1"
    assert resolve("s3://bkt", profile="x", environ=env).driver_kwargs()["region"] == "sa-east-1"
    assert (
        resolve("s3://bkt", environ={**env, "AWS_REGION": "us-west-1"}).driver_kwargs()["region"]
        == "us-west-1"
    )
    custom = resolve("s3://bkt", endpoint_url="http://127.0.0.1:9000", environ=env)
    assert "region" not in custom.driver_kwargs()


# -- levels ---------------------------------------------------------------------------------


def test_environment_level(no_requests: Any) -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://generic:1",
        "AWS_ENDPOINT_URL_S3": "http://s3-specific:2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "eu-west-3",
        "LIBSTORE_BUCKET": "envbkt",
        "LIBSTORE_PREFIX": "env/prefix",
        "LIBSTORE_ADDRESSING_STYLE": "virtual",
    }
    config = from_config(environ=env, key="a", secret="b")
    assert (config.container_name, config.prefix) == ("envbkt", "env/prefix/")
    driver = config.driver
    assert isinstance(driver, S3StorageDriver)
    assert (driver.host, driver.port, driver.region) == ("s3-specific", 2, "eu-west-3")
    assert driver.addressing_style == "virtual"
    resolved = resolve(environ=env, key="a", secret="b")
    assert resolved.sources["endpoint_url"] == "environment (AWS_ENDPOINT_URL_S3)"
    assert resolved.sources["region"] == "environment (AWS_REGION)"
    libstore_env = {**env, "LIBSTORE_ENDPOINT_URL": "http://mine:3", "LIBSTORE_REGION": "x-1"}
    assert resolve(environ=libstore_env).settings["endpoint_url"] == "http://mine:3"
    assert resolve(environ=libstore_env).settings["region"] == "x-1"
    ignored = {**env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert "endpoint_url" not in resolve(environ=ignored).settings


def test_libstore_url_in_the_environment(no_requests: Any) -> None:
    env = {"LIBSTORE_URL": "s3://urlbkt/from-url", "LIBSTORE_REGION": "eu-west-1"}
    config = resolve(environ=env)
    assert (config.bucket, config.prefix) == ("urlbkt", "from-url/")
    assert config.settings["region"] == "eu-west-1"
    with_prefix = resolve(environ={"LIBSTORE_URL": "s3://urlbkt", "LIBSTORE_PREFIX": "p"})
    assert with_prefix.prefix == "p/"


def test_precedence_explicit_file_environment(tmp_path: Path, no_requests: Any) -> None:
    config_file = write(
        tmp_path / "store.toml",
        """
        bucket = "filebkt"
        prefix = "file-prefix"
        region = "eu-west-1"
        endpoint_url = "http://127.0.0.1:9000"
        addressing_style = "virtual"
        """,
    )
    env = {
        "LIBSTORE_BUCKET": "envbkt",
        "LIBSTORE_PREFIX": "env-prefix",
        "AWS_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": "http://env:1",
        "LIBSTORE_ADDRESSING_STYLE": "path",
    }
    config = resolve(config=config_file, environ=env, region="ap-south-1")
    assert (config.bucket, config.prefix) == ("filebkt", "file-prefix/")
    assert config.settings["region"] == "ap-south-1"  # explicit beats file
    assert config.settings["endpoint_url"] == "http://127.0.0.1:9000"  # file beats environment
    assert config.settings["addressing_style"] == "virtual"
    assert config.sources["region"] == "argument"
    assert config.sources["bucket"].startswith("config file")
    # an explicit bucket takes no prefix from a lower level
    explicit = resolve("s3://argbkt", config=config_file, environ=env)
    assert (explicit.bucket, explicit.prefix) == ("argbkt", "")
    # a higher level's prefix applies to a lower level's bucket
    lower = resolve(config=config_file, environ=env, prefix="arg-prefix")
    assert (lower.bucket, lower.prefix) == ("filebkt", "arg-prefix/")
    # an explicit Amazon S3 URL is not sent to the environment's endpoint
    aws = resolve("https://bkt.s3.eu-west-1.amazonaws.com", environ=env)
    assert "host" not in aws.driver_kwargs()


def test_no_bucket_anywhere() -> None:
    with pytest.raises(ConfigError, match="no bucket"):
        from_config(environ={})


def test_store_config_repr_hides_secrets() -> None:
    config = resolve("s3://bkt", key="AKID", secret="topsecret", token="tok123", environ={})
    assert isinstance(config, StoreConfig)
    text = repr(config)
    assert "topsecret" not in text and "tok123" not in text
    assert "AKID" in text


def test_environment_variable_table_is_documented() -> None:
    from libstore import config as config_module

    doc = config_module.__doc__ or ""
    for names in ENVIRONMENT_VARIABLES.values():
        for name in names:
            assert name in doc, name


# -- files and substitution -----------------------------------------------------------------


def test_substitution() -> None:
    env = {"HOST": "minio", "EMPTY": ""}
    assert substitute_env("http://${env.HOST}:9000", env) == "http://minio:9000"
    assert substitute_env("${env.PORT:=9000}", env) == "9000"
    assert substitute_env("${env.EMPTY:=fallback}", env) == "fallback"
    assert substitute_env("${env.HOST:=other}", env) == "minio"
    assert substitute_env("${env.MISSING:=}", env) == ""
    assert substitute_env("cost $5, literal $${env.HOST}", env) == "cost $5, literal ${env.HOST}"
    assert substitute_env({"a": ["${env.HOST}", 1, True]}, env) == {"a": ["minio", 1, True]}
    with pytest.raises(ConfigError, match=r"storage\.secret: environment variable S3_SECRET"):
        substitute_env({"secret": "${env.S3_SECRET}"}, env, where="storage")
    with pytest.raises(ConfigError, match="unsupported substitution"):
        substitute_env("${HOST}", env)


def test_toml_file_with_section_and_substitution(tmp_path: Path, no_requests: Any) -> None:
    path = write(
        tmp_path / "libstore.toml",
        """
        [storage.backups]
        url = "s3://${env.BUCKET}/nightly"
        endpoint_url = "http://${env.S3_HOST:=127.0.0.1}:9000"
        access_key_id = "${env.KEY}"
        secret_access_key = "${env.SECRET}"
        part_size = 8388608
        auto_create_bucket = true
        """,
    )
    env = {"BUCKET": "bk", "KEY": "AKID", "SECRET": "s"}
    store = from_config(path, section="storage.backups", environ=env)
    assert (store.container_name, store.prefix) == ("bk", "nightly/")
    assert store.auto_create
    driver = store.driver
    assert isinstance(driver, S3StorageDriver)
    assert (driver.host, driver.part_size) == ("127.0.0.1", 8388608)
    with pytest.raises(ConfigError, match="environment variable SECRET is not set"):
        from_config(path, section="storage.backups", environ={"BUCKET": "b", "KEY": "k"})
    with pytest.raises(ConfigError, match=r"no table \[storage.nope\]"):
        from_config(path, section="storage.nope", environ=env)


def test_yaml_and_json_files(tmp_path: Path, no_requests: Any) -> None:
    yaml_path = write(
        tmp_path / "s.yaml",
        """
        url: s3://ybkt/y
        region: ${env.R:=eu-west-1}
        dualstack: true
        """,
    )
    config = resolve(config=yaml_path, environ={})
    assert (config.bucket, config.settings["region"], config.settings["dualstack"]) == (
        "ybkt",
        "eu-west-1",
        True,
    )
    json_path = write(tmp_path / "s.json", '{"bucket": "jbkt", "prefix": "j"}')
    assert resolve(config=json_path, environ={}).prefix == "j/"


def test_yaml_without_pyyaml_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "s.yml", "bucket: b\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ConfigError, match="needs PyYAML: pip install pyyaml"):
        load_config_file(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.toml", "bucket = ", "not valid TOML"),
        ("bad.yaml", "a: [", "not valid YAML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.yaml", "- a\n- b\n", "table of settings"),
        ("conf.ini", "[x]\n", "unknown type .ini"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message):
        load_config_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        from_config(tmp_path / "nope.toml", environ={})


def test_mapping_config_and_conflicts(no_requests: Any) -> None:
    config = resolve(
        config={"url": "s3://mbkt/m", "region": "${env.R}"}, environ={"R": "eu-west-1"}
    )
    assert (config.bucket, config.prefix, config.settings["region"]) == ("mbkt", "m/", "eu-west-1")
    with pytest.raises(ConfigError, match="says bucket='mbkt' but bucket='other'"):
        resolve(config={"url": "s3://mbkt", "bucket": "other"}, environ={})
    with pytest.raises(ConfigError, match="given twice"):
        resolve(config={"region": "a", "region_name": "b", "bucket": "x"}, environ={})
    with pytest.raises(ConfigError, match="section= needs config="):
        resolve("s3://b", section="x", environ={})
    with pytest.raises(ConfigError, match="URL is given twice"):
        resolve("s3://b", URL="s3://c", environ={})


# -- the scoped driver ------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStorageDriver:
    base = tmp_path / "base"
    base.mkdir()
    driver = LocalStorageDriver(str(base))
    driver.create_container("bkt")
    return driver


def test_prefix_normalisation() -> None:
    assert normalize_prefix(None) == ""
    assert normalize_prefix("") == ""
    assert normalize_prefix("/") == ""
    assert normalize_prefix("/a/b") == "a/b/"
    assert normalize_prefix("a/b//") == "a/b/"
    for bad in ("a//b", "./a", "a/.."):
        with pytest.raises(InvalidArgumentError):
            normalize_prefix(bad)


def test_scoped_driver_keeps_everything_under_the_prefix(
    local: LocalStorageDriver, tmp_path: Path
) -> None:
    outside = local.upload_object_via_stream(iter([b"x"]), local.get_container("bkt"), "other.txt")
    store = ScopedDriver(local, "bkt", "app/data")
    source = tmp_path / "file.txt"
    source.write_bytes(b"hello")
    obj = store.upload_object(source, store.container, "a.txt")
    assert (obj.name, obj.size, obj.driver) == ("a.txt", 5, store)
    store.upload_object_via_stream(iter([b"nested"]), store.container, "dir/b.txt")
    assert local.get_object("bkt", "app/data/a.txt").size == 5
    assert sorted(store.list_names()) == ["a.txt", "dir/b.txt"]
    assert store.list_names("dir/") == ["dir/b.txt"]
    got = store.get_object("bkt", "dir/b.txt")
    assert b"".join(store.download_object_as_stream(got)) == b"nested"
    assert b"".join(got.as_stream()) == b"nested"
    assert b"".join(store.download_object_range_as_stream(got, 1, 3)) == b"es"
    target = tmp_path / "out.txt"
    assert got.download(str(target))
    assert target.read_bytes() == b"nested"
    copied = store.copy_object(got, store.container, "copy.txt")
    assert copied.name == "copy.txt"
    assert local.get_object("bkt", "app/data/copy.txt").size == 6
    assert store.delete_object(got)
    with pytest.raises(ObjectDoesNotExistError):
        store.get_object("bkt", "dir/b.txt")
    assert local.get_object("bkt", outside.name).size == 1  # untouched
    assert [c.name for c in store.iterate_containers()] == ["bkt"]
    assert store.key("x") == "app/data/x"
    assert store.relative("app/data/x") == "x"


def test_scoped_driver_refuses_other_containers_and_names(local: LocalStorageDriver) -> None:
    store = ScopedDriver(local, "bkt", "p")
    with pytest.raises(InvalidArgumentError, match="scoped to container 'bkt'"):
        store.get_object("other", "x")
    with pytest.raises(InvalidArgumentError):
        list(store.iterate_container_objects(Container("other", {}, store)))
    with pytest.raises(InvalidObjectNameError):
        store.get_object("bkt", "")
    with pytest.raises(InvalidObjectNameError, match="relative to the prefix"):
        store.get_object("bkt", "/abs")
    with pytest.raises(InvalidObjectNameError, match="outside the prefix"):
        store.relative("q/x")
    with pytest.raises(NotSupportedError):
        store.delete_container(store.container)
    with pytest.raises(NotSupportedError):
        store.presign("GET", "x")  # the local driver does not presign


def test_auto_create_bucket(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    store = from_url(f"file://{base}/fresh", prefix="p", auto_create_bucket=True, environ={})
    assert not (base / "fresh").exists()  # nothing happens until first use
    store.upload_object_via_stream(iter([b"1"]), store.container, "one")
    assert store.driver.get_object("fresh", "p/one").size == 1
    plain = from_url(f"file://{base}/missing", environ={})
    with pytest.raises(ContainerDoesNotExistError):
        plain.get_object("missing", "x")


def test_scoped_presign_goes_under_the_prefix(no_requests: Any) -> None:
    store = from_url("http://127.0.0.1:9000/bkt/users/7", key="AKID", secret="s", environ={})
    url = store.presign("GET", "avatar.png").url
    assert url.startswith("http://127.0.0.1:9000/bkt/users/7/avatar.png?")
    post = store.presign_post()
    assert post.fields["key"] == "users/7/${filename}"
    post = store.presign_post("a.txt")
    assert post.fields["key"] == "users/7/a.txt"
    obj = store.driver.get_object  # noqa: F841 - the scoped driver exposes its driver


def test_top_level_exports() -> None:
    assert libstore.from_url is from_url
    assert libstore.from_config is from_config
    assert isinstance(from_url("s3://b", key="a", secret="b", environ={}), ScopedDriver)


def test_credentials_and_endpoint_are_taken_whole_from_one_level(no_requests: Any) -> None:
    env = {"LIBSTORE_PROFILE": "ci", "AWS_ENDPOINT_URL": "https://env-endpoint:9000"}
    config = resolve("s3://bkt", key="AKID", secret="s", host="mine.local", port=81, environ=env)
    kwargs = config.driver_kwargs()
    assert (kwargs["key"], kwargs["host"], kwargs["port"]) == ("AKID", "mine.local", 81)
    assert "profile" not in config.settings
    # a file's endpoint wins over the environment's, an explicit secure= over the file's scheme
    filed = resolve(
        "s3://bkt",
        config={"endpoint_url": "https://file-endpoint"},
        secure=False,
        environ=env,
    ).driver_kwargs()
    assert (filed["host"], filed["secure"]) == ("file-endpoint", False)
    assert resolve("s3://bkt", environ=env).driver_kwargs()["credentials"] is not None
