"""The provider preset table (libstore.providers): its data, its rules and its registration."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator

import pytest

import libstore.providers as providers_module
import libstore.registry as registry_module
from libstore import Provider, get_driver, registered_drivers
from libstore.drivers.s3 import MinIOStorageDriver, S3StorageDriver, SeaweedFSStorageDriver
from libstore.drivers.s3_family import driver_for_preset
from libstore.providers import (
    AWS_REGION_ALIASES,
    AWS_REGIONS,
    BUNDLED_PRESET_NAMES,
    CHECKSUM_ALGORITHMS,
    FEATURES,
    PRESETS,
    S3Preset,
    S3ProviderName,
    driver_class_name,
    get_preset,
    register_preset,
)
from libstore.types import InvalidArgumentError, NotSupportedError

#: Options each bundled preset needs to resolve its endpoint with no host.
NEEDS: dict[str, dict[str, str]] = {
    "cloudflare_r2": {"account": "0123456789abcdef0123456789abcdef"},
    "backblaze_b2": {"region": "us-west-004"},
    "oracle_oci": {"account": "axaxnpcrorw5", "region": "us-ashburn-1"},
}
SELF_HOSTED = {"minio", "ceph", "s3_rgw", "seaweedfs"}


@pytest.fixture(autouse=True)
def _restore_tables() -> Iterator[None]:
    """Undo register_preset/set_driver calls of a test."""
    presets = dict(providers_module._presets)
    drivers = dict(registry_module._registry)
    yield
    providers_module._presets.clear()
    providers_module._presets.update(presets)
    registry_module._registry.clear()
    registry_module._registry.update(drivers)


def _provider_values() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(Provider).items()
        if name.isupper() and isinstance(value, str)
    }


# -- the table and the names ---------------------------------------------------------------


def test_every_s3_provider_constant_has_a_preset_and_back() -> None:
    values = set(_provider_values().values()) - {Provider.LOCAL}
    assert values == set(BUNDLED_PRESET_NAMES)


def test_the_typing_literal_lists_exactly_the_bundled_presets() -> None:
    assert set(typing.get_args(S3ProviderName)) == set(BUNDLED_PRESET_NAMES)


def test_the_issue_providers_are_all_there() -> None:
    for name in (
        "s3", "minio", "ceph", "seaweedfs", "cloudflare_r2", "backblaze_b2", "wasabi",
        "digitalocean_spaces", "scaleway", "ovhcloud", "linode", "ibm_cos", "oracle_oci",
        "exoscale", "google_storage",
    ):  # fmt: skip
        preset = PRESETS[name]
        assert preset.alias_of is None
        assert preset.title and preset.website.startswith("https://")
        assert preset.sources, f"{name} has no documentation source"
        assert all(url.startswith("https://") for url in preset.sources)


def test_presets_are_keyed_by_their_name() -> None:
    assert all(key == preset.name for key, preset in PRESETS.items())


def test_presets_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        PRESETS["x"] = PRESETS["s3"]  # type: ignore[index]


def test_preset_is_frozen_and_normalised() -> None:
    preset = S3Preset(name="x", title="X", region_endpoints={"a": "h"}, regions=["r"])  # type: ignore[arg-type]
    assert preset.regions == ("r",)
    with pytest.raises(TypeError):
        preset.region_endpoints["b"] = "h2"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.max_parts = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "region"),
    [
        # libcloud's spellings, with libcloud's exact values
        ("S3_US_WEST", "s3_us_west", "us-west-1"),
        ("S3_US_WEST_OREGON", "s3_us_west_oregon", "us-west-2"),
        ("S3_US_GOV_WEST", "s3_us_gov_west", "us-gov-west-1"),
        ("S3_CN_NORTH", "s3_cn_north", "cn-north-1"),
        ("S3_CN_NORTHWEST", "s3_cn_northwest", "cn-northwest-1"),
        ("S3_EU_WEST", "s3_eu_west", "eu-west-1"),
        ("S3_EU_WEST2", "s3_eu_west_2", "eu-west-2"),
        ("S3_EU_CENTRAL", "s3_eu_central", "eu-central-1"),
        ("S3_EU_NORTH1", "s3_eu_north_1", "eu-north-1"),
        ("S3_AP_SOUTH", "s3_ap_south", "ap-south-1"),
        ("S3_AP_SOUTHEAST", "s3_ap_southeast", "ap-southeast-1"),
        ("S3_AP_SOUTHEAST2", "s3_ap_southeast2", "ap-southeast-2"),
        ("S3_AP_NORTHEAST", "s3_ap_northeast", "ap-northeast-1"),
        ("S3_AP_NORTHEAST1", "s3_ap_northeast_1", "ap-northeast-1"),
        ("S3_AP_NORTHEAST2", "s3_ap_northeast_2", "ap-northeast-2"),
        ("S3_SA_EAST", "s3_sa_east", "sa-east-1"),
        ("S3_CA_CENTRAL", "s3_ca_central", "ca-central-1"),
        ("S3_US_EAST2", "s3_us_east_2", "us-east-2"),
        # one name per region code
        ("S3_US_WEST_2", "s3_us_west_2", "us-west-2"),
        ("S3_EU_WEST_1", "s3_eu_west_1", "eu-west-1"),
        ("S3_AP_SOUTHEAST_7", "s3_ap_southeast_7", "ap-southeast-7"),
        ("S3_MX_CENTRAL_1", "s3_mx_central_1", "mx-central-1"),
    ],
)
def test_aws_region_aliases(name: str, value: str, region: str) -> None:
    assert getattr(Provider, name) == value
    assert AWS_REGION_ALIASES[value] == region
    preset = PRESETS[value]
    assert preset.alias_of == "s3"
    assert preset.default_region == region
    assert dataclasses.replace(preset, name="s3", title="Amazon S3", default_region="us-east-1",
                               alias_of=None) == PRESETS["s3"]  # fmt: skip


def test_every_aws_region_has_a_systematic_constant() -> None:
    values = _provider_values()
    for region in AWS_REGIONS:
        constant = "S3_" + region.upper().replace("-", "_")
        assert values[constant] == "s3_" + region.replace("-", "_")


def test_libcloud_ceph_name_binds_the_ceph_preset() -> None:
    assert Provider.S3_RGW == "s3_rgw"
    assert dataclasses.replace(PRESETS["s3_rgw"], name="ceph", alias_of=None) == PRESETS["ceph"]


def test_names_are_the_same_as_libclouds_where_libcloud_has_them() -> None:
    assert (Provider.MINIO, Provider.DIGITALOCEAN_SPACES, Provider.BACKBLAZE_B2) == (
        "minio",
        "digitalocean_spaces",
        "backblaze_b2",
    )
    assert Provider.GOOGLE_STORAGE == "google_storage"


# -- registration and driver classes -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUNDLED_PRESET_NAMES))
def test_every_preset_is_a_registered_s3_driver(name: str) -> None:
    cls = get_driver(name)
    assert issubclass(cls, S3StorageDriver)
    assert cls.preset_name == name
    assert cls is get_driver(name)  # cached
    assert cls.name == PRESETS[name].title or name in ("s3", "minio", "seaweedfs")
    assert cls.requires_host == (name in SELF_HOSTED)


def test_bundled_classes_stay_the_named_ones() -> None:
    assert get_driver(Provider.S3) is S3StorageDriver
    assert get_driver(Provider.MINIO) is MinIOStorageDriver
    assert get_driver(Provider.SEAWEEDFS) is SeaweedFSStorageDriver
    assert driver_for_preset("minio") is MinIOStorageDriver


def test_generated_class_names() -> None:
    assert driver_class_name("wasabi") == "WasabiStorageDriver"
    assert driver_class_name("cloudflare_r2") == "CloudflareR2StorageDriver"
    assert driver_class_name("s3_us_west_2") == "S3UsWest_2StorageDriver"
    assert driver_class_name("s3_ap_southeast2") == "S3ApSoutheast2StorageDriver"
    assert driver_class_name("my-cloud.eu") == "MyCloudEuStorageDriver"
    cls = get_driver(Provider.CLOUDFLARE_R2)
    assert cls.__name__ == "CloudflareR2StorageDriver"
    assert cls.__module__ == "libstore.drivers.s3_family"
    assert "cloudflare_r2" in (cls.__doc__ or "")
    import libstore.drivers.s3_family as family

    assert family.CloudflareR2StorageDriver is cls
    with pytest.raises(AttributeError):
        family.NoSuchStorageDriver  # noqa: B018


def test_class_names_are_unique() -> None:
    names = [driver_class_name(n) for n in BUNDLED_PRESET_NAMES]
    assert len(set(names)) == len(names)


def test_register_refuses_a_name_whose_class_would_clash() -> None:
    with pytest.raises(InvalidArgumentError, match="too close"):
        register_preset(S3Preset(name="cloudflare-r2", title="Clash"))


def test_registry_holds_lazy_strings_for_presets() -> None:
    target = registry_module._registry.get("exoscale")
    assert target in ("libstore.drivers.s3_family:ExoscaleStorageDriver", get_driver("exoscale"))


def test_register_a_new_preset_and_get_its_driver() -> None:
    preset = S3Preset(name="acme", title="ACME Storage", endpoint="s3.{region}.acme.example",
                      default_region="zone-1", addressing="virtual")  # fmt: skip
    register_preset(preset)
    assert get_preset("acme") is preset
    assert "acme" in registered_drivers()
    cls = get_driver("acme")
    assert cls.__name__ == "AcmeStorageDriver"
    driver = cls("KEY", "SECRET")
    assert (driver.host, driver.region, driver.preset) == (
        "s3.zone-1.acme.example",
        "zone-1",
        preset,
    )


def test_register_refuses_duplicates_without_clobber() -> None:
    with pytest.raises(InvalidArgumentError, match="clobber"):
        register_preset(dataclasses.replace(PRESETS["wasabi"], max_parts=5))
    with pytest.raises(TypeError):
        register_preset({"name": "x"})  # type: ignore[arg-type]


def test_overriding_a_bundled_preset_changes_new_drivers() -> None:
    before = get_driver(Provider.WASABI)("KEY", "SECRET")
    register_preset(dataclasses.replace(PRESETS["wasabi"], max_parts=500), clobber=True)
    after = get_driver(Provider.WASABI)("KEY", "SECRET")
    assert (before.preset.max_parts, after.preset.max_parts) == (10_000, 500)


def test_register_without_driver() -> None:
    register_preset(S3Preset(name="quiet", title="Quiet"), driver=False)
    assert "quiet" not in registered_drivers()
    assert S3StorageDriver("K", "S", host="h.example", preset="quiet").preset.name == "quiet"


def test_get_preset_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="no S3 provider preset"):
        get_preset("nope")
    preset = S3Preset(name="inline", title="Inline")
    assert get_preset(preset) is preset


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"endpoint": "s3.{zone}.example"}, "placeholders"),
        ({"default_region": "EU_WEST"}, "invalid region"),
        ({"addressing": "sideways"}, "addressing"),
        ({"addressing": "virtual", "virtual_hosting": False}, "virtual_hosting"),
        ({"existing_bucket": "maybe"}, "existing_bucket"),
        ({"list_objects_version": 3}, "list_objects_version"),
        ({"max_parts": 0}, "max_parts"),
        ({"max_parts": 20_000}, "max_parts"),
        ({"max_parts": True}, "max_parts"),
        ({"canned_acls": frozenset({"world"})}, "canned ACLs"),
        ({"checksum_algorithms": frozenset({"MD4"})}, "checksum"),
    ],
)
def test_invalid_presets_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        S3Preset(**{"name": "x", "title": "X", **changes})  # type: ignore[arg-type]


# -- endpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "host", "region", "signing", "addressing"),
    [
        ("s3", {}, "s3.amazonaws.com", "us-east-1", "us-east-1", "virtual"),
        ("s3", {"region": "eu-west-1"}, "s3.eu-west-1.amazonaws.com", "eu-west-1", "eu-west-1",
         "virtual"),
        ("s3", {"region": "cn-north-1"}, "s3.cn-north-1.amazonaws.com.cn", "cn-north-1",
         "cn-north-1", "virtual"),
        ("s3_us_west_oregon", {}, "s3.us-west-2.amazonaws.com", "us-west-2", "us-west-2",
         "virtual"),
        ("cloudflare_r2", NEEDS["cloudflare_r2"], "0123456789abcdef0123456789abcdef"
         ".r2.cloudflarestorage.com", "auto", "auto", "path"),
        ("cloudflare_r2", {**NEEDS["cloudflare_r2"], "region": "eu"},
         "0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com", "eu", "auto", "path"),
        ("backblaze_b2", NEEDS["backblaze_b2"], "s3.us-west-004.backblazeb2.com", "us-west-004",
         "us-west-004", "virtual"),
        ("wasabi", {}, "s3.us-east-1.wasabisys.com", "us-east-1", "us-east-1", "virtual"),
        ("wasabi", {"region": "eu-central-2"}, "s3.eu-central-2.wasabisys.com", "eu-central-2",
         "eu-central-2", "virtual"),
        ("digitalocean_spaces", {}, "nyc3.digitaloceanspaces.com", "nyc3", "nyc3", "virtual"),
        ("scaleway", {}, "s3.fr-par.scw.cloud", "fr-par", "fr-par", "virtual"),
        ("ovhcloud", {}, "s3.gra.io.cloud.ovh.net", "gra", "gra", "virtual"),
        ("linode", {}, "us-east-1.linodeobjects.com", "us-east-1", "us-east-1", "virtual"),
        ("ibm_cos", {}, "s3.us-south.cloud-object-storage.appdomain.cloud", "us-south",
         "us-south", "virtual"),
        ("oracle_oci", NEEDS["oracle_oci"],
         "axaxnpcrorw5.compat.objectstorage.us-ashburn-1.oraclecloud.com", "us-ashburn-1",
         "us-ashburn-1", "path"),
        ("exoscale", {}, "sos-ch-gva-2.exo.io", "ch-gva-2", "ch-gva-2", "virtual"),
        ("google_storage", {}, "storage.googleapis.com", "auto", "auto", "path"),
        ("google_storage", {"region": "europe-west1"}, "storage.googleapis.com", "europe-west1",
         "auto", "path"),
    ],
)  # fmt: skip
def test_endpoint_for(
    name: str, options: dict[str, str], host: str, region: str, signing: str, addressing: str
) -> None:
    endpoint = PRESETS[name].endpoint_for(**options)  # type: ignore[arg-type]
    assert (endpoint.host, endpoint.region, endpoint.signing_region) == (host, region, signing)
    assert endpoint.addressing == addressing
    assert endpoint.custom_host is False


@pytest.mark.parametrize("name", sorted(BUNDLED_PRESET_NAMES - SELF_HOSTED))
def test_every_hosted_preset_resolves_with_its_documented_options(name: str) -> None:
    preset = PRESETS[name]
    endpoint = preset.endpoint_for(**NEEDS.get(name, {}))  # type: ignore[arg-type]
    assert endpoint.host.count(".") >= 2
    assert "{" not in endpoint.host
    assert preset.region_from_host(endpoint.host) in (endpoint.region, None)


@pytest.mark.parametrize("name", sorted(SELF_HOSTED))
def test_self_hosted_presets_need_a_host(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match="host="):
        PRESETS[name].endpoint_for()
    endpoint = PRESETS[name].endpoint_for(host="127.0.0.1")
    assert (endpoint.host, endpoint.region, endpoint.custom_host) == (
        "127.0.0.1",
        "us-east-1",
        True,
    )


def test_region_is_read_back_from_a_preset_host() -> None:
    b2 = PRESETS["backblaze_b2"]
    endpoint = b2.endpoint_for(host="s3.eu-central-003.backblazeb2.com")
    assert (endpoint.region, endpoint.custom_host) == ("eu-central-003", True)
    assert PRESETS["cloudflare_r2"].region_from_host("abc.eu.r2.cloudflarestorage.com") == "eu"
    assert PRESETS["s3"].region_from_host("s3.amazonaws.com") == "us-east-1"
    assert PRESETS["s3"].region_from_host("S3.EU-WEST-3.amazonaws.com") == "eu-west-3"
    assert PRESETS["s3"].region_from_host("minio.internal") is None
    # an unrelated host on a preset with a default keeps the default
    assert PRESETS["wasabi"].endpoint_for(host="127.0.0.1").region == "us-east-1"


@pytest.mark.parametrize(
    ("name", "options", "error", "message"),
    [
        ("backblaze_b2", {}, InvalidArgumentError, "needs region="),
        ("oracle_oci", {"region": "us-ashburn-1"}, InvalidArgumentError, "needs account="),
        ("oracle_oci", {"account": "ns"}, InvalidArgumentError, "needs region="),
        ("cloudflare_r2", {}, InvalidArgumentError, "needs account="),
        ("cloudflare_r2", {"account": "Not An Id"}, InvalidArgumentError, "invalid account"),
        ("backblaze_b2", {"region": "us-west-004", "secure": False}, InvalidArgumentError,
         "HTTPS only"),
        ("oracle_oci", {**NEEDS["oracle_oci"], "addressing_style": "virtual"},
         NotSupportedError, "virtual-hosted"),
        ("wasabi", {"region": "EU"}, InvalidArgumentError, "invalid region"),
    ],
)  # fmt: skip
def test_endpoint_errors(
    name: str, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        PRESETS[name].endpoint_for(**options)  # type: ignore[arg-type]
    assert PRESETS[name].title in str(info.value) or "invalid" in message


def test_custom_host_lifts_endpoint_only_rules() -> None:
    # A caller-given host is trusted: plain HTTP and virtual addressing are the caller's call.
    oci = PRESETS["oracle_oci"]
    endpoint = oci.endpoint_for(host="gateway.example", addressing_style="virtual")
    assert endpoint.custom_host
    assert PRESETS["backblaze_b2"].endpoint_for(host="127.0.0.1", region="x", secure=False)


@pytest.mark.parametrize(
    ("name", "region", "constraint"),
    [
        ("s3", "us-east-1", None),
        ("s3", "eu-west-1", "eu-west-1"),
        ("ibm_cos", "us-south", "us-south-standard"),
        ("cloudflare_r2", "eu", None),
        ("google_storage", "auto", None),
        ("google_storage", "europe-west1", "europe-west1"),
        ("backblaze_b2", "us-west-004", None),
        ("scaleway", "nl-ams", "nl-ams"),
    ],
)
def test_location_constraint(name: str, region: str, constraint: str | None) -> None:
    assert PRESETS[name].location_constraint_for(region) == constraint


# -- capabilities -------------------------------------------------------------------------


def test_quirks_from_the_providers_documentation() -> None:
    assert PRESETS["cloudflare_r2"].equal_part_sizes
    assert not any(p.equal_part_sizes for n, p in PRESETS.items() if n != "cloudflare_r2")
    assert PRESETS["scaleway"].max_parts == 1000
    assert PRESETS["s3"].max_parts == 10_000
    assert PRESETS["cloudflare_r2"].canned_acls == frozenset()
    assert PRESETS["minio"].canned_acls == frozenset()
    assert PRESETS["oracle_oci"].canned_acls == frozenset()
    assert PRESETS["backblaze_b2"].canned_acls == {"private", "public-read"}
    assert PRESETS["digitalocean_spaces"].canned_acls == {"private", "public-read"}
    assert PRESETS["s3"].canned_acls is None
    assert PRESETS["google_storage"].checksum_algorithms == frozenset()
    assert not PRESETS["google_storage"].bulk_delete
    assert not PRESETS["google_storage"].upload_part_copy
    assert not PRESETS["exoscale"].conditional_writes
    assert not PRESETS["oracle_oci"].virtual_hosting
    assert PRESETS["backblaze_b2"].https_only
    assert PRESETS["s3"].existing_bucket == "ok"
    assert PRESETS["ceph"].existing_bucket == "ok"
    assert PRESETS["minio"].existing_bucket == "error"
    assert all(p.list_objects_version == 2 for p in PRESETS.values())


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_supports_and_require(feature: str) -> None:
    assert PRESETS["s3"].supports(feature)
    PRESETS["s3"].require(feature)
    lacking = S3Preset(
        name="bare", title="Bare", canned_acls=frozenset(), bulk_delete=False,
        conditional_writes=False, upload_part_copy=False, virtual_hosting=False,
    )  # fmt: skip
    assert not lacking.supports(feature)
    with pytest.raises(NotSupportedError, match="Bare does not support") as info:
        lacking.require(feature, driver="drv")
    assert info.value.driver == "drv"
    assert isinstance(info.value, NotImplementedError)


def test_unknown_feature() -> None:
    with pytest.raises(ValueError, match="unknown feature"):
        PRESETS["s3"].supports("teleport")


def test_check_acl() -> None:
    PRESETS["s3"].check_acl("bucket-owner-full-control")
    PRESETS["backblaze_b2"].check_acl("public-read")
    with pytest.raises(NotSupportedError, match="only the canned ACLs"):
        PRESETS["backblaze_b2"].check_acl("authenticated-read")
    with pytest.raises(NotSupportedError, match="Cloudflare R2 does not support access control"):
        PRESETS["cloudflare_r2"].check_acl("private")


def test_check_checksum() -> None:
    for algorithm in CHECKSUM_ALGORITHMS:
        PRESETS["s3"].check_checksum(algorithm.lower())
    with pytest.raises(NotSupportedError, match="does not accept SHA256 checksums"):
        PRESETS["google_storage"].check_checksum("sha256")


@pytest.mark.parametrize(
    ("name", "headers", "message"),
    [
        ("google_storage", {"x-amz-checksum-crc32": "AAAAAA=="}, "CRC32"),
        ("google_storage", {"X-Amz-Sdk-Checksum-Algorithm": "SHA1"}, "SHA1"),
        ("cloudflare_r2", {"x-amz-acl": "private"}, "access control"),
        ("exoscale", {"If-None-Match": "*"}, "conditional writes"),
        ("exoscale", {"if-match": '"abc"'}, "conditional writes"),
    ],
)
def test_check_request_headers_refuses(name: str, headers: dict[str, str], message: str) -> None:
    with pytest.raises(NotSupportedError, match=message):
        PRESETS[name].check_request_headers(headers)


def test_check_request_headers_accepts() -> None:
    PRESETS["s3"].check_request_headers(
        {"x-amz-checksum-sha256": "x", "If-None-Match": "*", "x-amz-acl": "private"}
    )
    PRESETS["google_storage"].check_request_headers(
        {"x-amz-checksum-type": "FULL_OBJECT", "Cache-Control": "no-cache"}
    )


def _sizes(preset: S3Preset, sizes: list[int]) -> list[int]:
    return [len(p) for p in preset.guard_part_sizes(iter(b"x" * n for n in sizes))]


def test_guard_part_sizes() -> None:
    r2 = PRESETS["cloudflare_r2"]
    assert _sizes(r2, [5, 5, 5, 2]) == [5, 5, 5, 2]
    assert _sizes(r2, [5, 5, 5]) == [5, 5, 5]
    assert _sizes(r2, [7]) == [7]
    assert _sizes(r2, []) == []
    with pytest.raises(InvalidArgumentError, match="one size"):
        _sizes(r2, [5, 6, 6, 1])
    with pytest.raises(InvalidArgumentError, match="last part"):
        _sizes(r2, [5, 5, 9])
    assert _sizes(PRESETS["s3"], [5, 6, 7]) == [5, 6, 7]


# -- libstore.driverkit: the validation third-party drivers reuse ------------------------------


def test_driverkit_exposes_the_bundled_validation() -> None:
    from libstore import driverkit

    assert set(driverkit.__all__) == {
        "CANNED_ACLS",
        "STORAGE_CLASSES",
        "UploadOptions",
        "parse_upload_extra",
    }
    options = driverkit.parse_upload_extra({"meta_data": {"Owner": "Alice"}, "acl": "private"})
    assert isinstance(options, driverkit.UploadOptions)
    assert dict(options.meta_data) == {"owner": "Alice"}
    with pytest.raises(InvalidArgumentError):
        driverkit.parse_upload_extra({"colour": "blue"})
    assert "private" in driverkit.CANNED_ACLS
