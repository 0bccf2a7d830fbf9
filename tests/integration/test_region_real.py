"""Region discovery against real servers.

moto keeps each bucket's region and answers an unsigned ``HEAD`` with
``x-amz-bucket-region``, as AWS does; SeaweedFS does not say, and discovery must
then report ``None`` and leave the driver's region in place.
"""

from __future__ import annotations

import pytest
from servers import S3Endpoint

from libstore.drivers.s3 import S3StorageDriver
from libstore.types import ContainerDoesNotExistError

pytestmark = pytest.mark.integration


def driver_on(endpoint: S3Endpoint, region: str) -> S3StorageDriver:
    return S3StorageDriver(
        endpoint.access_key,
        endpoint.secret_key,
        secure=False,
        host="127.0.0.1",
        port=endpoint.port,
        region=region,
    )


def test_discovery_finds_the_bucket_region_on_moto(moto_s3: S3Endpoint, bucket_name: str) -> None:
    creator = driver_on(moto_s3, "eu-west-1")
    creator.create_container(bucket_name)
    try:
        driver = driver_on(moto_s3, "us-east-1")
        assert driver.discover_region(bucket_name) == "eu-west-1"
        assert driver.bucket_region(bucket_name) == "eu-west-1"
        # later requests sign for the bucket's region, and still work
        assert driver.get_container(bucket_name).extra.get("region") == "eu-west-1"
        assert driver.list_container_objects(driver.get_container(bucket_name)) == []
        with pytest.raises(ContainerDoesNotExistError):
            driver.discover_region(bucket_name + "-missing")
    finally:
        creator.delete_container(creator.get_container(bucket_name))


def test_discovery_on_a_store_that_does_not_say(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    driver = driver_on(seaweedfs, "us-east-1")
    driver.create_container(bucket_name)
    try:
        assert driver.discover_region(bucket_name) is None
        assert driver.bucket_region(bucket_name) == "us-east-1"
        assert driver.list_container_objects(driver.get_container(bucket_name)) == []
    finally:
        driver.delete_container(driver.get_container(bucket_name))
