"""weft for Python: submit jobs to a weft coordinator and follow them.

    import weft
    c = weft.Client("127.0.0.1:7070")
    print(c.submit_sum(1, 1_000_000_000, tasks=100).result(timeout=60))

weft.aio has the same client for asyncio. Messages are the generated weft.v1.* protobuf types.
"""

from ._client import Client, Job
from ._errors import (CertificateRejected, ConfigurationError, DeadlineExceeded, FailedPrecondition,
                      InvalidArgument, JobCancelled, JobFailed, NotFound, PermissionDenied,
                      ResourceExhausted, Timeout, Unauthenticated, Unavailable, WeftError)
from ._common import make_spec
from . import v1  # noqa: E402  the generated messages: weft.v1.job_pb2.JobState, ...
from .v1 import job_pb2, job_service_pb2  # noqa: F401,E402

__all__ = ["Client", "Job", "WeftError", "Unauthenticated", "PermissionDenied", "InvalidArgument",
           "NotFound", "FailedPrecondition", "ResourceExhausted", "Unavailable", "DeadlineExceeded",
           "CertificateRejected", "ConfigurationError", "JobFailed", "JobCancelled", "Timeout",
           "make_spec", "aio", "v1"]


from . import aio  # noqa: E402  (after the names it imports from here)
