"""The asyncio client (grpc.aio): ``weft.aio.Client`` with the methods of ``weft.Client`` as
coroutines, and ``job.events()`` as an async iterator.

    async with weft.aio.Client("127.0.0.1:7070") as c:
        job = await c.submit_sum(1, 100)
        print(await job.result(timeout=60))
"""

import asyncio
import time

import grpc
import grpc.aio

from . import _common, _connect
from ._client import REWATCH_SECONDS
from ._common import connect_failed, leader_of, make_spec, new_request_id, pb, result_value
from ._errors import Timeout, Unavailable, from_rpc_error


class _Connection:
    def __init__(self, settings, connect_timeout, call_timeout):
        self.settings = settings
        self.addresses = list(settings.addresses)
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.index = 0
        self.lock = asyncio.Lock()
        self.channel = self.stub = self.address = None
        self.route = None

    async def current(self):
        async with self.lock:
            if self.stub is None:
                last = None
                for _ in range(len(self.addresses)):
                    address = self.addresses[self.index]
                    try:
                        # The pin's handshake is blocking socket work: off the event loop.
                        route = await asyncio.get_running_loop().run_in_executor(
                            None, _connect.route, self.settings, address, self.connect_timeout)
                    except Unavailable as e:
                        last = e
                        self.index = (self.index + 1) % len(self.addresses)
                        continue
                    self.channel = route.channel(grpc.aio)
                    self.stub = pb()[2].JobServiceStub(self.channel)
                    self.address = address
                    self.route = route
                    break
                else:
                    raise last
            return self.stub, self.address

    async def move(self, failed_address, leader=None):
        async with self.lock:
            if self.address != failed_address:
                return
            if leader:
                if leader not in self.addresses:
                    self.addresses.append(_connect.check_address(leader))
                self.index = self.addresses.index(leader)
            else:
                self.index = (self.index + 1) % len(self.addresses)
            if self.channel is not None:
                await self.channel.close()
            self.channel = self.stub = self.address = None

    async def call(self, method, request, timeout=None, idempotent=True):
        hops = 0
        while True:
            stub, address = await self.current()
            try:
                return await getattr(stub, method)(
                    request, timeout=self.call_timeout if timeout is None else timeout)
            except grpc.aio.AioRpcError as e:
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
                await self.move(address, leader)

    async def close(self):
        async with self.lock:
            if self.channel is not None:
                await self.channel.close()
            self.channel = self.stub = None


class Client:
    """As weft.Client, over grpc.aio; every call is a coroutine."""

    def __init__(self, address=None, *, token=None, ca_file=None, cert_file=None, key_file=None,
                 server_name=None, insecure=False, config=None, connect_timeout=10.0,
                 call_timeout=30.0):
        self.settings = _connect.Settings(address, token, ca_file, cert_file, key_file,
                                          server_name, insecure, config)
        self._conn = _Connection(self.settings, connect_timeout, call_timeout)

    async def submit(self, spec=None, **options):
        job = await self._conn.call(
            "SubmitJob", pb()[1].SubmitJobRequest(spec=make_spec(spec, **options),
                                                  request_id=new_request_id()),
            idempotent=True)
        return Job(self, job.id, job)

    async def submit_sum(self, from_, to, **options):
        job_pb2 = pb()[0]
        return await self.submit(
            job_pb2.JobSpec(sum=job_pb2.SumParams(**{"from": from_, "to": to})), **options)

    async def submit_primes(self, from_, to, **options):
        job_pb2 = pb()[0]
        return await self.submit(
            job_pb2.JobSpec(primes=job_pb2.PrimesParams(**{"from": from_, "to": to})), **options)

    async def submit_sleep(self, ms, **options):
        job_pb2 = pb()[0]
        return await self.submit(job_pb2.JobSpec(sleep=job_pb2.SleepParams(ms=ms)), **options)

    async def submit_exec(self, command, inputs=(), *, env=None, workdir=None, **options):
        job_pb2 = pb()[0]
        params = job_pb2.ExecParams(command=list(command), inputs=[str(i) for i in inputs],
                                    workdir=workdir or "", env=dict(env or {}))
        return await self.submit(job_pb2.JobSpec(exec=params), **options)

    async def job(self, job_id):
        return Job(self, job_id, await self.get_job(job_id))

    async def get_job(self, job_id):
        return await self._conn.call("GetJob", pb()[1].GetJobRequest(id=job_id))

    async def jobs(self, states=(), limit=0):
        r = await self._conn.call("ListJobs", pb()[1].ListJobsRequest(states=states, limit=limit))
        return list(r.jobs)

    async def workers(self):
        return list((await self._conn.call("ListWorkers", pb()[1].ListWorkersRequest())).workers)

    async def cancel(self, job_id, reason=""):
        r = await self._conn.call("CancelJob", pb()[1].CancelJobRequest(id=job_id, reason=reason))
        return r.cancelled

    async def watch(self, job_id, include_tasks=False, timeout=None):
        """An async iterator of weft.v1.JobEvents (see weft.Client.watch)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        request = pb()[1].WatchJobRequest(id=job_id, include_tasks=include_tasks)
        lost_since = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout("job %s did not finish within %ss" % (job_id, timeout))
            try:
                stub, address = await self._conn.current()
            except Unavailable:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > REWATCH_SECONDS:
                    raise
                await asyncio.sleep(0.5)
                continue
            call = stub.WatchJob(request, timeout=remaining)
            try:
                async for event in call:
                    lost_since = None
                    yield event
                    if _common.finished(event):
                        return
                return
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and deadline is not None:
                    raise Timeout("job %s did not finish within %ss" % (job_id, timeout)) from None
                # A watch is a read: a stream the coordinator reset as it died or closed its port
                # (INTERNAL or CANCELLED with RST_STREAM; our own cancel raises nothing here) is
                # watched again as after UNAVAILABLE.
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
                                    grpc.StatusCode.CANCELLED):
                    raise from_rpc_error(e, address) from None
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > REWATCH_SECONDS:
                    raise from_rpc_error(e, address) from None
                leader = leader_of(e)
                await self._conn.move(address, leader)
                if not leader and len(self._conn.addresses) == 1:
                    await asyncio.sleep(0.5)
            finally:
                call.cancel()

    async def close(self):
        await self._conn.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


class Job:
    def __init__(self, client, job_id, info=None):
        self.client = client
        self.id = job_id
        self.info = info

    async def refresh(self):
        self.info = await self.client.get_job(self.id)
        return self.info

    async def state(self):
        return pb()[0].JobState.Name((await self.refresh()).state)

    async def wait(self, timeout=None):
        async for event in self.client.watch(self.id, timeout=timeout):
            if _common.finished(event):
                self.info = event.finished
                return self.info
        return await self.refresh()

    async def result(self, timeout=None):
        return result_value(await self.wait(timeout))

    def events(self, include_tasks=False, timeout=None):
        return self.client.watch(self.id, include_tasks=include_tasks, timeout=timeout)

    async def cancel(self, reason=""):
        return await self.client.cancel(self.id, reason)

    def __repr__(self):
        return "weft.aio.Job(%r)" % self.id
