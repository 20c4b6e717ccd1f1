package dev.weft.bench;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.WatchJobRequest;
import io.grpc.Channel;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What {@link RunJobsPipeline} measures, for a coordinator without RunJobs: each job a SubmitJob
 * and then a WatchJob of its own, {@code window} jobs unfinished at any time. Callbacks run on
 * gRPC's threads; a semaphore holds the window.
 */
final class SubmitWatchPipeline {
  private final JobSpec spec;
  private final int window;
  private final long nanos;
  private final Semaphore room;
  private final AtomicLong finished = new AtomicLong();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  SubmitWatchPipeline(JobSpec spec, int window, long nanos) {
    this.spec = spec;
    this.window = window;
    this.nanos = nanos;
    this.room = new Semaphore(window);
  }

  double run(Channel channel, Duration deadline) throws InterruptedException {
    JobServiceGrpc.JobServiceStub stub = JobServiceGrpc.newStub(channel);
    long start = System.nanoTime();
    while (System.nanoTime() - start < nanos) {
      if (!room.tryAcquire(ClientProbe.ONE_TASK_DEADLINE.toNanos(), TimeUnit.NANOSECONDS)) {
        throw new IllegalStateException(
            window + " jobs unfinished after " + ClientProbe.ONE_TASK_DEADLINE);
      }
      checkFailure();
      submit(stub);
    }
    if (!room.tryAcquire(window, deadline.toNanos(), TimeUnit.NANOSECONDS)) {
      throw new IllegalStateException("jobs unfinished after " + deadline);
    }
    checkFailure();
    return finished.get() * 1e9 / (System.nanoTime() - start);
  }

  private void submit(JobServiceGrpc.JobServiceStub stub) {
    stub.withDeadlineAfter(ClientProbe.UNARY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
        .submitJob(
            SubmitJobRequest.newBuilder().setSpec(spec).build(),
            new StreamObserver<>() {
              @Override
              public void onNext(Job job) {
                watch(stub, job.getId());
              }

              @Override
              public void onError(Throwable t) {
                failed(t);
              }

              @Override
              public void onCompleted() {}
            });
  }

  private void watch(JobServiceGrpc.JobServiceStub stub, String id) {
    stub.withDeadlineAfter(ClientProbe.ONE_TASK_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
        .watchJob(
            WatchJobRequest.newBuilder().setId(id).build(),
            new StreamObserver<>() {
              private boolean over;

              @Override
              public void onNext(JobEvent event) {
                Job job =
                    event.hasFinished()
                        ? event.getFinished()
                        : event.hasSnapshot() && ClientProbe.isFinal(event.getSnapshot().getState())
                            ? event.getSnapshot()
                            : null;
                if (job != null && !over) {
                  over = true;
                  try {
                    ClientProbe.checkSucceeded(job, spec.getTasks());
                    finished.incrementAndGet();
                  } catch (IllegalStateException e) {
                    failure.compareAndSet(null, e);
                  }
                  room.release();
                }
              }

              @Override
              public void onError(Throwable t) {
                if (!over) {
                  over = true;
                  failed(t);
                }
              }

              @Override
              public void onCompleted() {
                if (!over) {
                  over = true;
                  failed(
                      new IllegalStateException("WatchJob ended before job " + id + " finished"));
                }
              }
            });
  }

  private void failed(Throwable t) {
    failure.compareAndSet(null, t);
    room.release();
  }

  private void checkFailure() {
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("SubmitJob+WatchJob: " + t, t);
    }
  }
}
