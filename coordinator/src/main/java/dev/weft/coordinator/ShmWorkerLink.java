package dev.weft.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.local.FrameEncoder;
import dev.weft.local.ShmEndpoint;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.WorkerMessage;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A worker's task traffic over a shared-memory segment, with its original link kept as the control
 * channel (liveness, goodbyes, and frames too large for a ring).
 *
 * <p>{@link #send} never blocks: when the ring is full, messages wait in order in an overflow queue
 * that a writer thread drains as the worker makes room.
 */
final class ShmWorkerLink implements WorkerLink, ShmEndpoint.Listener {
  private final ShmEndpoint endpoint;
  private final WorkerLink control;
  private final Consumer<WorkerMessage> inbound;
  private final Consumer<String> onFailure;
  private final ArrayDeque<CoordinatorMessage> overflow = new ArrayDeque<>();
  private boolean draining;
  private volatile boolean closed;
  private volatile Runnable whenWritable = () -> {};

  /**
   * @param inbound where the worker's messages from the ring go
   * @param onFailure told once when the shared-memory link fails (not when it is closed)
   */
  ShmWorkerLink(
      Function<ShmEndpoint.Listener, ShmEndpoint> endpoints,
      WorkerLink control,
      Consumer<WorkerMessage> inbound,
      Consumer<String> onFailure) {
    this.control = control;
    this.inbound = inbound;
    this.onFailure = onFailure;
    this.endpoint = endpoints.apply(this);
  }

  void start() {
    endpoint.start();
  }

  WorkerLink control() {
    return control;
  }

  @Override
  public void send(CoordinatorMessage message) {
    if (closed) {
      return;
    }
    int length = message.getSerializedSize();
    if (length > endpoint.maxFrameLength()) {
      control.send(message);
      return;
    }
    synchronized (overflow) {
      if (overflow.isEmpty()
          && endpoint.trySend(LinkFrames.COORDINATOR_MESSAGE, length, encoder(message))) {
        return;
      }
      overflow.addLast(message);
      if (!draining) {
        draining = true;
        Thread.ofVirtual().name("weft-shm-overflow").start(this::drainOverflow);
      }
    }
  }

  /** Serializes straight into the ring: a large payload is copied once, not twice. */
  private static FrameEncoder encoder(CoordinatorMessage message) {
    return destination -> LinkFrames.writeTo(message, destination);
  }

  /** Writes queued messages in order, waiting for room; stops when the link goes down. */
  private void drainOverflow() {
    while (true) {
      CoordinatorMessage next;
      synchronized (overflow) {
        next = overflow.peekFirst();
        if (next == null || closed) {
          overflow.clear();
          draining = false;
          return;
        }
      }
      if (!endpoint.send(LinkFrames.COORDINATOR_MESSAGE, next.getSerializedSize(), encoder(next))) {
        synchronized (overflow) {
          overflow.clear();
          draining = false;
        }
        return;
      }
      boolean emptied;
      synchronized (overflow) {
        overflow.pollFirst();
        emptied = overflow.isEmpty();
      }
      if (emptied) {
        whenWritable.run();
      }
    }
  }

  @Override
  public boolean isWritable() {
    synchronized (overflow) {
      return overflow.isEmpty();
    }
  }

  @Override
  public void whenWritable(Runnable action) {
    whenWritable = action;
    control.whenWritable(action);
  }

  @Override
  public Transport transport() {
    return Transport.SHM;
  }

  @Override
  public boolean revoked() {
    return control.revoked();
  }

  /** Closes the shared-memory link only (the segment is unlinked); the control link stays up. */
  void closeShm() {
    closed = true;
    endpoint.close();
  }

  @Override
  public void release() {
    closeShm();
    control.release();
  }

  @Override
  public void close(String reason) {
    closeShm();
    control.close(reason);
  }

  @Override
  public void refuse(Status status) {
    closeShm();
    control.refuse(status);
  }

  @Override
  public void onFrame(int type, ByteBuffer payload) {
    if (type != LinkFrames.WORKER_MESSAGE) {
      fail("unexpected frame type " + type + " from the worker");
      return;
    }
    WorkerMessage message;
    try {
      message = LinkFrames.parse(WorkerMessage.parser(), payload);
    } catch (InvalidProtocolBufferException e) {
      fail("unreadable frame from the worker: " + e.getMessage());
      return;
    }
    inbound.accept(message);
  }

  @Override
  public void onFailure(String reason) {
    fail(reason);
  }

  private void fail(String reason) {
    if (!closed) {
      onFailure.accept(reason);
    }
  }
}
