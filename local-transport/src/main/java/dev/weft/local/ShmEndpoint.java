package dev.weft.local;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One side of a link over a {@link ShmSegment}: a thread that delivers inbound frames, writes this
 * side's heartbeat and watches the peer's, and a sender that waits for room when the ring is full.
 * Whatever goes wrong (a corrupt frame, a peer that closed, died or went silent) is reported once
 * to {@link Listener#onFailure}, after which nothing more is delivered.
 */
public final class ShmEndpoint implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(ShmEndpoint.class.getName());
  private static final int POLL_LIMIT = 256;

  /** The reason given to {@link Listener#onFailure} when the peer closed its side. */
  public static final String PEER_CLOSED = "the peer closed the segment";

  private static final long FULL_RING_PARK_NS = TimeUnit.MICROSECONDS.toNanos(50);

  /** Receives frames and the end of the link; called on the endpoint's thread. */
  public interface Listener {
    /** One frame; the payload is valid only during the call. */
    void onFrame(int type, ByteBuffer payload);

    /** The link failed; called at most once, never after {@link ShmEndpoint#close()}. */
    void onFailure(String reason);
  }

  private final ShmSegment segment;
  private final Listener listener;
  private final long heartbeatIntervalMs;
  private final long staleAfterMs;
  private final String name;
  private final Object sendLock = new Object();
  private volatile boolean stopped;
  private volatile String failure;
  private Thread thread;

  /**
   * @param heartbeatIntervalMs how often this side writes its heartbeat and checks the peer's
   * @param staleAfterMs how old the peer's heartbeat may get before the link is declared dead
   */
  public ShmEndpoint(
      ShmSegment segment,
      Listener listener,
      long heartbeatIntervalMs,
      long staleAfterMs,
      String name) {
    this.segment = Objects.requireNonNull(segment, "segment");
    this.listener = Objects.requireNonNull(listener, "listener");
    if (heartbeatIntervalMs <= 0 || staleAfterMs <= 2 * heartbeatIntervalMs) {
      throw new IllegalArgumentException(
          "staleAfterMs ("
              + staleAfterMs
              + ") must exceed twice heartbeatIntervalMs ("
              + heartbeatIntervalMs
              + "), which must be positive");
    }
    this.heartbeatIntervalMs = heartbeatIntervalMs;
    this.staleAfterMs = staleAfterMs;
    this.name = name;
  }

  /** Starts the receiving thread. */
  public synchronized void start() {
    if (thread != null) {
      throw new IllegalStateException(name + " already started");
    }
    segment.heartbeat(System.currentTimeMillis());
    thread = Thread.ofPlatform().name(name).daemon(true).start(this::run);
  }

  public ShmSegment segment() {
    return segment;
  }

  /** The largest payload {@link #send} takes; larger frames must go another way. */
  public int maxFrameLength() {
    return segment.sender().maxFrameLength();
  }

  /**
   * Sends a frame, waiting while the ring is full. Returns false when the link has failed or been
   * closed (the frame was not sent), or when the frame is larger than {@link #maxFrameLength()}.
   */
  public boolean send(int type, byte[] payload) {
    return send(type, payload.length, destination -> destination.put(payload));
  }

  /**
   * Sends a frame of {@code length} bytes that {@code encoder} writes straight into the ring,
   * waiting while the ring is full; false as for {@link #send(int, byte[])}.
   */
  public boolean send(int type, int length, FrameEncoder encoder) {
    if (length > maxFrameLength()) {
      return false;
    }
    synchronized (sendLock) {
      while (!stopped && failure == null) {
        if (segment.sender().offer(type, length, encoder)) {
          return true;
        }
        if (segment.isPeerClosed()) {
          fail(PEER_CLOSED);
          return false;
        }
        LockSupport.parkNanos(FULL_RING_PARK_NS);
        if (Thread.currentThread().isInterrupted()) {
          return false;
        }
      }
      return false;
    }
  }

  /** Tries to send once without waiting; false when the ring is full or the link is down. */
  public boolean trySend(int type, byte[] payload) {
    return trySend(type, payload.length, destination -> destination.put(payload));
  }

  /** As {@link #trySend(int, byte[])}, encoding in place. */
  public boolean trySend(int type, int length, FrameEncoder encoder) {
    if (length > maxFrameLength() || stopped || failure != null) {
      return false;
    }
    synchronized (sendLock) {
      return segment.sender().offer(type, length, encoder);
    }
  }

  public boolean isFailed() {
    return failure != null;
  }

  private void run() {
    long intervalNs = TimeUnit.MILLISECONDS.toNanos(heartbeatIntervalMs);
    long nextBeat = System.nanoTime() + intervalNs;
    FrameHandler handler = listener::onFrame;
    try {
      while (!stopped) {
        segment.receiver().receive(handler, POLL_LIMIT, intervalNs);
        long now = System.nanoTime();
        if (now - nextBeat >= 0) {
          nextBeat = now + intervalNs;
          long nowMs = System.currentTimeMillis();
          segment.heartbeat(nowMs);
          String problem = checkPeer(nowMs);
          if (problem != null) {
            fail(problem);
            return;
          }
        } else if (segment.isPeerClosed()) {
          fail(PEER_CLOSED);
          return;
        }
      }
    } catch (CorruptFrameException e) {
      fail("corrupt frame: " + e.getMessage());
    } catch (InterruptedException e) {
      if (!stopped) {
        fail("interrupted");
      }
    } catch (IllegalStateException e) {
      // The segment was closed under us (close() from another thread): not a failure to report.
      if (!stopped) {
        fail("segment closed: " + e.getMessage());
      }
    }
  }

  private String checkPeer(long nowMs) {
    if (segment.isPeerClosed()) {
      return PEER_CLOSED;
    }
    if (segment.isPeerStale(nowMs, staleAfterMs)) {
      return "the peer's heartbeat is older than " + staleAfterMs + " ms";
    }
    if (segment.isPeerAttached() && !segment.isPeerAlive()) {
      return "the peer process " + segment.peerPid() + " is gone";
    }
    return null;
  }

  private void fail(String reason) {
    synchronized (this) {
      if (failure != null || stopped) {
        return;
      }
      failure = reason;
    }
    // A peer that closes its side is the normal end of a link; anything else is worth a warning.
    LOG.log(
        reason.equals(PEER_CLOSED) ? System.Logger.Level.DEBUG : System.Logger.Level.WARNING,
        "{0}: {1}",
        name,
        reason);
    listener.onFailure(reason);
  }

  /** Stops the thread and closes the segment (unlinking it if this side created it). */
  @Override
  public void close() {
    stopped = true;
    segment.close();
    Thread current = thread;
    if (current != null && current != Thread.currentThread()) {
      try {
        current.join(TimeUnit.SECONDS.toMillis(2));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
