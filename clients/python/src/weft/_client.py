"""The blocking client: weft.Client and weft.Job."""

import threading
import time

import grpc

from . import _common, _connect
from ._common import connect_failed, leader_of, make_spec, new_request_id, pb, result_value
from ._errors import Timeout, Unavailable, from_rpc_error

# How long a watch keeps trying to reach a coordinator again (a takeover, a restart) before it
# gives up with Unavailable.
REWATCH_SECONDS = 60.0


class _Connection:
    """One coordinator address at a time, with failover to the next address or to the leader a
    standby names."""

    def __init__(self, settings, connect_timeout, call_timeout):
        self.settings = settings
        self.addresses = list(settings.addresses)
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.index = 0
        self.lock = threading.Lock()
        self.channel = None
        self.stub = None
        self.address = None
        self.route = None  # how the current address is reached (weft._connect.Route)

    def current(self):
        with self.lock:
            if self.stub is None:
                last = None
                for _ in range(len(self.addresses)):
                    address = self.addresses[self.index]
                    try:
                        route = _connect.route(self.settings, address, self.connect_timeout)
                    except Unavailable as e:
                        last = e
                        self.index = (self.index + 1) % len(self.addresses)
                        continue
                    self.channel = route.channel(grpc)
                    self.stub = pb()[2].JobServiceStub(self.channel)
                    self.address = address
                    self.route = route
                    break
                else:
                    raise last
            return self.stub, self.address

    def move(self, failed_address, leader=None):
        """Leave ``failed_address``: for the leader it named, else the next address."""
        with self.lock:
            if self.address != failed_address:
                return  # another thread moved already
            if leader:
                if leader not in self.addresses:
                    self.addresses.append(_connect.check_address(leader))
                self.index = self.addresses.index(leader)
            else:
                self.index = (self.index + 1) % len(self.addresses)
            if self.channel is not None:
                self.channel.close()
            self.channel = self.stub = self.address = None

    def call(self, method, request, timeout=None, idempotent=True):
        hops = 0
        while True:
            stub, address = self.current()
            try:
                return getattr(stub, method)(
                    request, timeout=self.call_timeout if timeout is None else timeout)
            except grpc.RpcError as e:
                leader = leader_of(e)
                # With several addresses, one that answers nothing in time (a coordinator stopped
                # or cut off) is passed by as one that is down, for calls a repeat cannot harm.
                retry = leader is not None or (
                    len(self.addresses) > 1 and (
                        ((idempotent or connect_failed(e))
                         and e.code() == grpc.StatusCode.UNAVAILABLE)
                        or (idempotent and e.code() == grpc.StatusCode.DEADLINE_EXCEEDED)))
                if not retry or hops >= 2 * len(self.addresses) + 2:
                    raise from_rpc_error(e, address) from None
                hops += 1
                self.move(address, leader)

    def close(self):
        with self.lock:
            if self.channel is not None:
                self.channel.close()
            self.channel = self.stub = None


class Client:
    """A connection to a weft coordinator (or a high-availability pair: "a:7070,b:7070").

    Without ``address`` it is $WEFT_COORDINATOR, else the config file's ``coordinator``, else
    127.0.0.1:7070; credentials are found as the CLI finds them (see weft._connect), or given as
    ``token=`` (a client token ``weft1-...``), ``ca_file=``, ``cert_file=``/``key_file=``,
    ``server_name=``, or ``insecure=True`` for a coordinator started with --insecure.
    ``call_timeout`` (seconds) bounds each call but watches, which ``timeout=`` bounds.
    """

    def __init__(self, address=None, *, token=None, ca_file=None, cert_file=None, key_file=None,
                 server_name=None, insecure=False, config=None, connect_timeout=10.0,
                 call_timeout=30.0):
        self.settings = _connect.Settings(address, token, ca_file, cert_file, key_file,
                                          server_name, insecure, config)
        self._conn = _Connection(self.settings, connect_timeout, call_timeout)

    # --- submitting ---
    def submit(self, spec=None, **options):
        """Submits a weft.v1.JobSpec (plus options, see make_spec) and returns its Job. The request
        carries a request id of its own: when the answer is lost (a takeover), it is sent again
        to the leader, which answers with the job the first sending made."""
        _, service, _ = pb()
        request = service.SubmitJobRequest(spec=make_spec(spec, **options),
                                           request_id=new_request_id())
        job = self._conn.call("SubmitJob", request, idempotent=True)
        return Job(self, job.id, job)

    def submit_sum(self, from_, to, **options):
        """The sum of the integers in [from_, to]; result() is an int."""
        job_pb2 = pb()[0]
        return self.submit(job_pb2.JobSpec(sum=job_pb2.SumParams(**{"from": from_, "to": to})),
                           **options)

    def submit_primes(self, from_, to, **options):
        job_pb2 = pb()[0]
        return self.submit(job_pb2.JobSpec(primes=job_pb2.PrimesParams(**{"from": from_, "to": to})),
                           **options)

    def submit_sleep(self, ms, **options):
        job_pb2 = pb()[0]
        return self.submit(job_pb2.JobSpec(sleep=job_pb2.SleepParams(ms=ms)), **options)

    def submit_exec(self, command, inputs=(), *, env=None, workdir=None, **options):
        """Runs ``command`` (argv; "{}" in a word is replaced by the task's input) once per input;
        result() is a weft.v1.ExecResult."""
        job_pb2 = pb()[0]
        params = job_pb2.ExecParams(command=list(command), inputs=[str(i) for i in inputs],
                                    workdir=workdir or "", env=dict(env or {}))
        return self.submit(job_pb2.JobSpec(exec=params), **options)

    # --- looking ---
    def job(self, job_id):
        """The Job with this id (NotFound when there is none)."""
        return Job(self, job_id, self.get_job(job_id))

    def get_job(self, job_id):
        return self._conn.call("GetJob", pb()[1].GetJobRequest(id=job_id))

    def jobs(self, states=(), limit=0):
        """weft.v1.Job summaries, newest first."""
        return list(self._conn.call("ListJobs", pb()[1].ListJobsRequest(states=states, limit=limit)).jobs)

    def workers(self):
        return list(self._conn.call("ListWorkers", pb()[1].ListWorkersRequest()).workers)

    def cancel(self, job_id, reason=""):
        """True when the job was cancelled, False when it had already finished."""
        return self._conn.call("CancelJob", pb()[1].CancelJobRequest(id=job_id, reason=reason)).cancelled

    def watch(self, job_id, include_tasks=False, timeout=None):
        """weft.v1.JobEvents of the job until the one that finishes it. When the coordinator goes
        away meanwhile (a restart, a standby taking over), the job is watched again wherever it is
        served, starting with a fresh snapshot event."""
        deadline = None if timeout is None else time.monotonic() + timeout
        request = pb()[1].WatchJobRequest(id=job_id, include_tasks=include_tasks)
        lost_since = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout("job %s did not finish within %ss" % (job_id, timeout))
            try:
                stub, address = self._conn.current()
            except Unavailable:
                if lost_since is None:
                    lost_since = time.monotonic()
                if time.monotonic() - lost_since > REWATCH_SECONDS:
                    raise
                time.sleep(0.5)
                continue
            stream = stub.WatchJob(request, timeout=remaining)
            try:
                for event in stream:
                    lost_since = None
                    yield event
                    if _common.finished(event):
                        return
                return
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
                    raise Timeout("job %s did not finish within %ss" % (job_id, timeout)) from None
                # A watch is a read: a stream the coordinator reset as it died or closed its port
                # (INTERNAL or CANCELLED with RST_STREAM; our own cancel raises nothing here) is
                # watched again as after UNAVAILABLE.
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
                                    grpc.StatusCode.CANCELLED):
                    raise from_rpc_error(e, address) from None
                if lost_since is None:
                    lost_since = time.monotonic()
                if time.monotonic() - lost_since > REWATCH_SECONDS:
                    raise from_rpc_error(e, address) from None
                leader = leader_of(e)
                self._conn.move(address, leader)
                if not leader and len(self._conn.addresses) == 1:
                    time.sleep(0.5)
            finally:
                stream.cancel()

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "weft.Client(%r)" % ",".join(self.settings.addresses)


class Job:
    """A submitted job. ``id``; ``info`` is the weft.v1.Job as last seen."""

    def __init__(self, client, job_id, info=None):
        self.client = client
        self.id = job_id
        self.info = info

    def refresh(self):
        """The job now (weft.v1.Job), also kept in ``info``."""
        self.info = self.client.get_job(self.id)
        return self.info

    @property
    def state(self):
        """The state name now: QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, ..."""
        return pb()[0].JobState.Name(self.refresh().state)

    def wait(self, timeout=None):
        """Waits until the job finishes; returns the final weft.v1.Job (whatever its state)."""
        for event in self.client.watch(self.id, timeout=timeout):
            if _common.finished(event):
                self.info = event.finished
                return self.info
        return self.refresh()

    def result(self, timeout=None):
        """Waits for the job and returns its result: an int for sum and primes, a float for pi,
        the hex SHA-256 for hash, weft.v1.ExecResult for exec. Raises weft.JobFailed (with exit
        code and stderr for exec) or weft.JobCancelled, and weft.Timeout after ``timeout`` s."""
        return result_value(self.wait(timeout))

    def events(self, include_tasks=False, timeout=None):
        """weft.v1.JobEvents until the job finishes (see Client.watch)."""
        return self.client.watch(self.id, include_tasks=include_tasks, timeout=timeout)

    def cancel(self, reason=""):
        """Cancels the job; True when it was cancelled, False when it had already finished."""
        return self.client.cancel(self.id, reason)

    def __repr__(self):
        return "weft.Job(%r)" % self.id
