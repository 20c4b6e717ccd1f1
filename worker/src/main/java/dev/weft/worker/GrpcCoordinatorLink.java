package dev.weft.worker;

import dev.weft.v1.WorkerMessage;
import dev.weft.wire.Transport;
import io.grpc.stub.ClientCallStreamObserver;

/** The worker's side of a {@code WorkerService.Attach} stream. */
final class GrpcCoordinatorLink implements CoordinatorLink {
  private final ClientCallStreamObserver<WorkerMessage> out;
  private boolean closed;

  GrpcCoordinatorLink(ClientCallStreamObserver<WorkerMessage> out) {
    this.out = out;
  }

  @Override
  public synchronized void send(WorkerMessage message) {
    // onNext is not thread-safe; results, heartbeats and credit come from different threads.
    if (!closed) {
      out.onNext(message);
    }
  }

  @Override
  public Transport transport() {
    return Transport.GRPC;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      out.onCompleted();
    }
  }

  @Override
  public synchronized void abort(String reason) {
    if (!closed) {
      closed = true;
      out.cancel(reason, null);
    }
  }

  synchronized void markClosed() {
    closed = true;
  }
}
