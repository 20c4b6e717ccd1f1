"""What the sync and async clients share: building specs, reading results, failover decisions."""

import uuid

import grpc

from ._errors import JobCancelled, JobFailed

LEADER_KEY = "weft-leader"


def pb():
    from .v1 import job_pb2, job_service_pb2, job_service_pb2_grpc
    return job_pb2, job_service_pb2, job_service_pb2_grpc


def _duration(value):
    from google.protobuf import duration_pb2
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(round(float(value) * 1e9)))
    return d


def new_request_id():
    """A key for one submission (SubmitJobRequest.request_id): a repeat of the request makes no
    second job."""
    return str(uuid.uuid4())


def make_spec(spec=None, **options):
    """A weft.v1.JobSpec from ``spec`` (a JobSpec, copied) plus keyword options: tasks, task_size,
    max_attempts, timeout/grace/task_timeout (seconds), name, retry_on_error, workers, priority,
    weight, strict, after (job ids or Job objects)."""
    job_pb2 = pb()[0]
    out = job_pb2.JobSpec()
    if spec is not None:
        out.CopyFrom(spec)
    for key, value in options.items():
        if value is None:
            continue
        if key in ("timeout", "grace", "task_timeout"):
            getattr(out, key).CopyFrom(_duration(value))
        elif key == "workers":
            out.workers.extend(value)
        elif key == "after":
            for dep in value:
                out.after.add(job_id=getattr(dep, "id", dep))
        elif key in ("tasks", "task_size", "max_attempts", "name", "retry_on_error", "priority",
                     "weight", "strict"):
            setattr(out, key, value)
        else:
            raise TypeError("unknown job option %r" % key)
    return out


def result_value(job):
    """What result() returns for a SUCCEEDED job; raises JobFailed / JobCancelled otherwise."""
    job_pb2 = pb()[0]
    if job.state == job_pb2.FAILED:
        raise JobFailed(job)
    if job.state == job_pb2.CANCELLED:
        raise JobCancelled(job)
    r = job.result
    kind = r.WhichOneof("value")
    if kind == "sum":
        return int(r.sum.sum)
    if kind == "primes":
        return r.primes.count
    if kind == "pi":
        return r.pi.estimate
    if kind == "hash":
        return r.hash.sha256
    if kind is None:
        return r.summary
    return getattr(r, kind)


def finished(event):
    return event.WhichOneof("event") == "finished"


def leader_of(error):
    """The leader's address a standby names in its UNAVAILABLE's trailer, or None."""
    if error.code() != grpc.StatusCode.UNAVAILABLE:
        return None
    try:
        trailers = error.trailing_metadata() or ()
    except Exception:  # noqa: BLE001 - an aio error without trailers
        return None
    for key, value in trailers:
        if key == LEADER_KEY and value:
            return value.decode() if isinstance(value, bytes) else value
    return None


def connect_failed(error):
    """True when the call never reached a coordinator (so retrying elsewhere cannot repeat it)."""
    if error.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    d = (error.details() or "").lower()
    return "failed to connect" in d or "connection refused" in d or "connect failed" in d \
        or "dns resolution failed" in d
