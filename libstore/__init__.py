"""libstore: one libcloud-compatible API over S3, S3-compatible stores and local disk.

Example::

    from libstore import Provider, get_driver

    driver = get_driver(Provider.S3)("AKID", "secret", region="eu-west-1")
    container = driver.get_container("backups")
    container.upload_object("backup.tar", "2026/backup.tar")
"""

from libstore.base import Container as Container
from libstore.base import Object as Object
from libstore.base import StorageDriver as StorageDriver
from libstore.config import from_config as from_config
from libstore.config import from_url as from_url
from libstore.http.events import Event as Event
from libstore.http.events import EventHooks as EventHooks
from libstore.http.events import TransferStats as TransferStats
from libstore.http.events import last_transfer_stats as last_transfer_stats
from libstore.http.options import ClientOptions as ClientOptions
from libstore.http.options import call_options as call_options
from libstore.http.retry import RetryPolicy as RetryPolicy
from libstore.registry import get_driver as get_driver
from libstore.registry import registered_drivers as registered_drivers
from libstore.registry import set_driver as set_driver
from libstore.types import AccessDeniedError as AccessDeniedError
from libstore.types import ContainerAlreadyExistsError as ContainerAlreadyExistsError
from libstore.types import ContainerDoesNotExistError as ContainerDoesNotExistError
from libstore.types import ContainerError as ContainerError
from libstore.types import ContainerIsNotEmptyError as ContainerIsNotEmptyError
from libstore.types import InvalidArgumentError as InvalidArgumentError
from libstore.types import InvalidContainerNameError as InvalidContainerNameError
from libstore.types import InvalidCredsError as InvalidCredsError
from libstore.types import InvalidObjectNameError as InvalidObjectNameError
from libstore.types import InvalidRangeError as InvalidRangeError
from libstore.types import LibstoreError as LibstoreError
from libstore.types import MultipartUploadError as MultipartUploadError
from libstore.types import NotModifiedError as NotModifiedError
from libstore.types import NotSupportedError as NotSupportedError
from libstore.types import ObjectDoesNotExistError as ObjectDoesNotExistError
from libstore.types import ObjectError as ObjectError
from libstore.types import ObjectHashMismatchError as ObjectHashMismatchError
from libstore.types import PreconditionFailedError as PreconditionFailedError
from libstore.types import Provider as Provider
from libstore.types import RateLimitReachedError as RateLimitReachedError
from libstore.types import RequestTimeoutError as RequestTimeoutError
from libstore.types import ResponseError as ResponseError
from libstore.types import ServerError as ServerError
from libstore.types import TransportError as TransportError

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "ClientOptions",
    "Container",
    "ContainerAlreadyExistsError",
    "ContainerDoesNotExistError",
    "ContainerError",
    "ContainerIsNotEmptyError",
    "Event",
    "EventHooks",
    "InvalidArgumentError",
    "InvalidContainerNameError",
    "InvalidCredsError",
    "InvalidObjectNameError",
    "InvalidRangeError",
    "LibstoreError",
    "MultipartUploadError",
    "NotModifiedError",
    "NotSupportedError",
    "Object",
    "ObjectDoesNotExistError",
    "ObjectError",
    "ObjectHashMismatchError",
    "PreconditionFailedError",
    "Provider",
    "RateLimitReachedError",
    "RequestTimeoutError",
    "ResponseError",
    "RetryPolicy",
    "ServerError",
    "StorageDriver",
    "TransferStats",
    "TransportError",
    "__version__",
    "call_options",
    "from_config",
    "from_url",
    "get_driver",
    "last_transfer_stats",
    "registered_drivers",
    "set_driver",
]
