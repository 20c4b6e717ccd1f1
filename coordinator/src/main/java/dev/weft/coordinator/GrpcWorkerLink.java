package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.wire.Transport;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.function.BooleanSupplier;

/**
 * A worker attached over {@code WorkerService.Attach}: messages go out on the response stream.
 * gRPC's own buffer is the outbox: {@code onNext} never blocks, and {@code isReady()} tells when
 * the worker stopped taking what it was sent.
 */
final class GrpcWorkerLink implements WorkerLink {
  private final ServerCallStreamObserver<CoordinatorMessage> out;
  private final BooleanSupplier revoked;
  private volatile Runnable whenWritable = () -> {};
  private boolean closed;

  /**
   * @param revoked whether the credentials of the Attach call were revoked since
   */
  GrpcWorkerLink(ServerCallStreamObserver<CoordinatorMessage> out, BooleanSupplier revoked) {
    this.out = out;
    this.revoked = revoked;
    // Must be set before the Attach method returns; the action is chosen later.
    out.setOnReadyHandler(() -> whenWritable.run());
  }

  @Override
  public boolean revoked() {
    return revoked.getAsBoolean();
  }

  @Override
  public synchronized void send(CoordinatorMessage message) {
    // onNext is not thread-safe and throws once the call is cancelled: guard both here.
    if (closed || out.isCancelled()) {
      return;
    }
    out.onNext(message);
  }

  @Override
  public boolean isWritable() {
    return out.isReady();
  }

  @Override
  public void whenWritable(Runnable action) {
    whenWritable = action;
  }

  @Override
  public Transport transport() {
    return Transport.GRPC;
  }

  @Override
  public synchronized void close(String reason) {
    if (closed) {
      return;
    }
    closed = true;
    if (!out.isCancelled()) {
      out.onError(Status.UNAVAILABLE.withDescription(reason).asRuntimeException());
    }
  }

  /** Ends the stream with a specific status (a protocol violation by the worker). */
  @Override
  public synchronized void refuse(Status status) {
    if (closed) {
      return;
    }
    closed = true;
    if (!out.isCancelled()) {
      out.onError(status.asRuntimeException());
    }
  }

  /** Marks the link closed after the worker ended the stream itself. */
  synchronized void markClosed() {
    closed = true;
  }

  synchronized void complete() {
    if (!closed && !out.isCancelled()) {
      closed = true;
      out.onCompleted();
    }
  }
}
