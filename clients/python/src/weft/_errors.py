"""What the client raises: one class per gRPC status code that matters to a caller, all WeftError."""

import grpc


class WeftError(Exception):
    """Base of every error this package raises. For a refused call, ``code`` is the gRPC status
    code and ``message`` the coordinator's own explanation."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = code


class Unauthenticated(WeftError):
    """No token, a wrong or revoked one (UNAUTHENTICATED)."""


class PermissionDenied(WeftError):
    """A known caller that may not do this (PERMISSION_DENIED): a read token submitting, say."""


class InvalidArgument(WeftError):
    """The coordinator refused what was asked (INVALID_ARGUMENT), e.g. a bad job spec."""


class NotFound(WeftError):
    """No such job or worker (NOT_FOUND)."""


class FailedPrecondition(WeftError):
    """FAILED_PRECONDITION."""


class ResourceExhausted(WeftError):
    """RESOURCE_EXHAUSTED: a limit of the coordinator's."""


class Unavailable(WeftError):
    """The coordinator cannot be reached, or it cannot serve now (UNAVAILABLE)."""


class DeadlineExceeded(WeftError):
    """A call's deadline passed (DEADLINE_EXCEEDED)."""


class CertificateRejected(WeftError):
    """The coordinator's certificate does not match the token's pin (or the CA file)."""


class ConfigurationError(WeftError, ValueError):
    """Bad client settings: a damaged token, a missing file, a combination that cannot work."""


class JobFailed(WeftError):
    """The job ended FAILED. ``job`` is the final weft.v1.Job; ``failures`` its failed attempts
    (each with ``exit_code`` for exec tasks); ``exec_failures`` the failed exec tasks' outcomes
    (exit code, stdout and stderr tails)."""

    def __init__(self, job):
        outcomes = []
        if job.result.WhichOneof("value") == "exec":
            outcomes = [t for t in job.result.exec.tasks if t.exit_code != 0]
        detail = job.error or "failed"
        if outcomes and not job.error:
            o = outcomes[0]
            detail += " (task %d exited %d%s)" % (
                o.task, o.exit_code, ": " + o.stderr_tail.strip() if o.stderr_tail.strip() else "")
        super().__init__("job %s failed: %s" % (job.id, detail))
        self.job = job
        self.failures = list(job.failures)
        self.exec_failures = outcomes

    @property
    def exit_code(self):
        """The exit code of the first failed exec task, or None."""
        if self.exec_failures:
            return self.exec_failures[0].exit_code
        for f in self.failures:
            if f.HasField("exit_code"):
                return f.exit_code
        return None

    @property
    def stderr(self):
        """The stderr tail of the first failed exec task, or None."""
        return self.exec_failures[0].stderr_tail if self.exec_failures else None


class JobCancelled(WeftError):
    """The job ended CANCELLED. ``job`` is the final weft.v1.Job."""

    def __init__(self, job):
        super().__init__("job %s was cancelled%s" % (job.id, ": " + job.error if job.error else ""))
        self.job = job


class Timeout(WeftError, TimeoutError):
    """``result(timeout=...)`` passed its timeout before the job finished (the job goes on)."""


_BY_CODE = {
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def from_rpc_error(error, target=None):
    """The WeftError for a grpc.RpcError (sync or aio), carrying the server's message."""
    code = error.code()
    details = error.details() or str(code)
    if code == grpc.StatusCode.UNAVAILABLE and target is not None:
        lower = details.lower()
        if "certificate verify failed" in lower or "handshake failed" in lower \
                or "not in peer certificate" in lower:
            return CertificateRejected(
                "the coordinator at %s failed the TLS check: %s; check the token (or ca_file) is"
                " this coordinator's and that its certificate names the host you connect to"
                " (server_name= names another)" % (target, details), code)
        details = "the coordinator at %s is unavailable: %s" % (target, details)
    return _BY_CODE.get(code, WeftError)(details, code)
