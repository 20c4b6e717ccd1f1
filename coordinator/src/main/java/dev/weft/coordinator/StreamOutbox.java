package dev.weft.coordinator;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayDeque;
import java.util.function.Predicate;

/**
 * What the conductor has for one client stream and the stream has not taken yet. Messages are
 * written only while gRPC says the stream is ready ({@code isReady()}), so a client that stops
 * reading holds at most {@code limit} messages here, never an unbounded buffer in the transport.
 * The stream's onReady handler posts {@link #flush} to the conductor. Conductor thread only.
 */
final class StreamOutbox<T> {
  private final ServerCallStreamObserver<T> stream;
  private final int limit;
  private final Outboxes owner;
  private final java.util.function.UnaryOperator<T> view;
  private final java.util.function.IntConsumer onSent;
  private final ArrayDeque<T> queue = new ArrayDeque<>();
  private Status endStatus; // set once the stream is to end: OK completes it, else an error
  private boolean closed;
  boolean dirty; // Outboxes' mark: queued for the end of this cycle

  StreamOutbox(ServerCallStreamObserver<T> stream, int limit, Outboxes owner) {
    this(stream, limit, owner, java.util.function.UnaryOperator.identity());
  }

  /**
   * @param view what this stream's reader may see of each message (messages are shared by every
   *     watcher of a job; see {@link JobViews})
   */
  StreamOutbox(
      ServerCallStreamObserver<T> stream,
      int limit,
      Outboxes owner,
      java.util.function.UnaryOperator<T> view) {
    this(stream, limit, owner, view, sent -> {});
  }

  /**
   * @param onSent told how many messages each flush wrote, when it wrote some (a relay acknowledges
   *     them to their source)
   */
  StreamOutbox(
      ServerCallStreamObserver<T> stream,
      int limit,
      Outboxes owner,
      java.util.function.UnaryOperator<T> view,
      java.util.function.IntConsumer onSent) {
    this.stream = stream;
    this.limit = limit;
    this.owner = owner;
    this.view = view;
    this.onSent = onSent;
  }

  /** Queues {@code message}; false (nothing queued) when {@code limit} messages already wait. */
  boolean offer(T message) {
    if (closed || endStatus != null) {
      return true; // the stream is over: nothing more goes out, and that is no overflow
    }
    if (queue.size() >= limit) {
      return false;
    }
    queue.addLast(message);
    owner.markDirty(this);
    return true;
  }

  /**
   * Queues {@code message}, replacing the last one queued if it is of the same sort (a newer
   * progress count makes an older one useless), so repeated updates never fill the outbox.
   */
  boolean offerCoalescing(T message, Predicate<T> sameSort) {
    if (!closed && endStatus == null && !queue.isEmpty() && sameSort.test(queue.peekLast())) {
      queue.pollLast();
    }
    return offer(message);
  }

  /** Ends the stream once what is queued, and then {@code last} if not null, has gone out. */
  void finish(T last) {
    if (closed || endStatus != null) {
      return;
    }
    if (last != null) {
      queue.addLast(last); // the end always fits: the outbox is bounded by one more
    }
    endStatus = Status.OK;
    owner.markDirty(this);
  }

  /** Ends the stream with {@code status} at once, dropping what is queued. */
  void fail(Status status) {
    if (closed) {
      return;
    }
    queue.clear();
    endStatus = status;
    owner.markDirty(this);
  }

  boolean isClosed() {
    return closed;
  }

  int queued() {
    return queue.size();
  }

  /** Writes what the stream takes now; returns how many messages went out. */
  int flush() {
    if (closed) {
      return 0;
    }
    if (stream.isCancelled()) {
      close();
      return 0;
    }
    int sent = 0;
    while (!queue.isEmpty() && stream.isReady()) {
      stream.onNext(view.apply(queue.pollFirst()));
      sent++;
    }
    if (sent > 0) {
      onSent.accept(sent);
    }
    if (queue.isEmpty() && endStatus != null) {
      closed = true;
      if (endStatus.isOk()) {
        stream.onCompleted();
      } else {
        stream.onError(endStatus.asRuntimeException());
      }
    }
    return sent;
  }

  /** The client went away: nothing more is written. */
  void close() {
    closed = true;
    queue.clear();
  }
}
