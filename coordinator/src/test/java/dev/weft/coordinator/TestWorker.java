package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Credit;
import dev.weft.v1.Hello;
import dev.weft.v1.HostIdentity;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskResults;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A worker that speaks the Attach protocol directly, so service tests can see and shape every
 * message. Tasks are answered by {@code behaviour}, or held until the test answers them itself.
 */
final class TestWorker implements AutoCloseable {
  private final BlockingQueue<CoordinatorMessage> received = new LinkedBlockingQueue<>();
  private final BlockingQueue<TaskAssignment> held = new LinkedBlockingQueue<>();
  final List<Long> cancelled = new CopyOnWriteArrayList<>();
  final java.util.Map<Long, Long> cancelGraceMs = new java.util.concurrent.ConcurrentHashMap<>();
  private final Function<TaskAssignment, TaskResult> behaviour;
  private final StreamObserver<WorkerMessage> out;
  volatile Status endedWith;
  private boolean closed; // guarded by this

  /** {@code behaviour} null means hold every task until {@link #nextTask} takes it. */
  TestWorker(
      ManagedChannel channel,
      String id,
      int slots,
      List<String> kinds,
      Function<TaskAssignment, TaskResult> behaviour) {
    this.behaviour = behaviour;
    this.out =
        WorkerServiceGrpc.newStub(channel)
            .attach(
                new StreamObserver<>() {
                  @Override
                  public void onNext(CoordinatorMessage message) {
                    received.add(message);
                    if (message.hasAssignments()) {
                      for (TaskAssignment task : message.getAssignments().getTasksList()) {
                        if (TestWorker.this.behaviour == null) {
                          held.add(task);
                        } else {
                          answer(TestWorker.this.behaviour.apply(task));
                        }
                      }
                    } else if (message.hasCancel()) {
                      for (long id : message.getCancel().getAttemptIdsList()) {
                        cancelGraceMs.put(id, message.getCancel().getGraceMs());
                      }
                      cancelled.addAll(message.getCancel().getAttemptIdsList());
                    }
                  }

                  @Override
                  public void onError(Throwable t) {
                    endedWith = Status.fromThrowable(t);
                  }

                  @Override
                  public void onCompleted() {
                    endedWith = Status.OK;
                  }
                });
    send(
        WorkerMessage.newBuilder()
            .setHello(
                Hello.newBuilder()
                    .setWorkerId(id)
                    .setPid(ProcessHandle.current().pid())
                    .setSlots(slots)
                    .addAllKinds(kinds)
                    .addTransports("grpc")
                    .setHost(HostIdentity.newBuilder().setHostname("test-host")))
            .build());
    send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setSlots(slots)).build());
  }

  synchronized void send(WorkerMessage message) {
    out.onNext(message);
  }

  void answer(TaskResult result) {
    send(
        WorkerMessage.newBuilder().setResults(TaskResults.newBuilder().addResults(result)).build());
  }

  TaskAssignment nextTask(Duration timeout) throws InterruptedException {
    TaskAssignment task = held.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(task != null, "no task assigned within " + timeout);
    return task;
  }

  TaskAssignment pollTask() {
    return held.poll();
  }

  /** The next task if one comes within {@code wait}, else null. */
  TaskAssignment pollTask(Duration wait) throws InterruptedException {
    return held.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Drops the connection as a crashed worker would. */
  synchronized void crash() {
    closed = true;
    out.onError(Status.UNAVAILABLE.withDescription("test worker crashed").asRuntimeException());
  }

  /** Ends the stream as a worker leaving would; idempotent. */
  @Override
  public synchronized void close() {
    if (endedWith == null && !closed) {
      closed = true;
      out.onCompleted();
    }
  }
}
