package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Hello;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/**
 * {@code WorkerService}: turns each Attach stream into a {@link GrpcWorkerLink} for the scheduler.
 */
final class WorkerEndpoint extends WorkerServiceGrpc.WorkerServiceImplBase {
  static final int MAX_WORKER_ID_CHARS = 200;
  static final int MAX_SLOTS = 4096;

  private final Scheduler scheduler;

  WorkerEndpoint(Scheduler scheduler) {
    this.scheduler = scheduler;
  }

  @Override
  public StreamObserver<WorkerMessage> attach(StreamObserver<CoordinatorMessage> responses) {
    ServerCallStreamObserver<CoordinatorMessage> out =
        (ServerCallStreamObserver<CoordinatorMessage>) responses;
    return new AttachStream(out);
  }

  private final class AttachStream implements StreamObserver<WorkerMessage> {
    private final GrpcWorkerLink link;
    private volatile WorkerSession session;

    AttachStream(ServerCallStreamObserver<CoordinatorMessage> out) {
      this.link = new GrpcWorkerLink(out);
      out.setOnCancelHandler(() -> gone("its stream was cancelled"));
    }

    @Override
    public void onNext(WorkerMessage message) {
      WorkerSession current = session;
      if (current == null) {
        if (!message.hasHello()) {
          link.close("the first message on Attach must be a hello");
          return;
        }
        String problem = checkHello(message.getHello());
        if (problem != null) {
          link.closeWith(Status.INVALID_ARGUMENT.withDescription(problem));
          return;
        }
        session = scheduler.attach(message.getHello(), link);
        return;
      }
      switch (message.getBodyCase()) {
        case CREDIT -> scheduler.credit(current, message.getCredit().getSlots());
        case RESULTS -> scheduler.results(current, message.getResults().getResultsList());
        case HEARTBEAT -> scheduler.heartbeat(current);
        case GOODBYE -> {
          scheduler.handBack(current, message.getGoodbye().getReturnedAttemptIdsList());
          scheduler.detached(current, "it said goodbye: " + message.getGoodbye().getReason());
          link.complete();
        }
        case HELLO -> link.closeWith(Status.INVALID_ARGUMENT.withDescription("hello sent twice"));
        case BODY_NOT_SET ->
            link.closeWith(
                Status.INVALID_ARGUMENT.withDescription("empty WorkerMessage (no body set)"));
      }
    }

    @Override
    public void onError(Throwable t) {
      gone("its stream broke: " + Status.fromThrowable(t).getCode());
    }

    @Override
    public void onCompleted() {
      gone("it closed its stream");
      link.complete();
    }

    private void gone(String reason) {
      link.markClosed();
      WorkerSession current = session;
      if (current != null) {
        scheduler.detached(current, reason);
      }
    }
  }

  /** Returns what is wrong with a hello, or null when it is acceptable. */
  static String checkHello(Hello hello) {
    String id = hello.getWorkerId();
    if (id.isBlank() || id.length() > MAX_WORKER_ID_CHARS) {
      return "hello.worker_id: must be 1.." + MAX_WORKER_ID_CHARS + " characters, not blank";
    }
    for (int i = 0; i < id.length(); i++) {
      if (Character.isISOControl(id.charAt(i)) || Character.isWhitespace(id.charAt(i))) {
        return "hello.worker_id: must not contain spaces or control characters";
      }
    }
    if (hello.getSlots() < 1 || hello.getSlots() > MAX_SLOTS) {
      return "hello.slots: must be 1.." + MAX_SLOTS + ", got " + hello.getSlots();
    }
    if (hello.getKindsCount() == 0) {
      return "hello.kinds: a worker must run at least one kind";
    }
    return null;
  }
}
