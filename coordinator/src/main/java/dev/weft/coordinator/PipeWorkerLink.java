package dev.weft.coordinator;

import dev.weft.local.FrameWriter;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import io.grpc.Status;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;

/**
 * A worker this coordinator spawned, reached through its stdin: one frame per message. A writer
 * thread of its own drains the outbox into the pipe, so a worker that stops reading (stopped with
 * SIGSTOP, its pipe full) blocks that thread alone; the link then reports itself not writable and
 * gets no new tasks, and its lease runs out as for any silent worker.
 */
final class PipeWorkerLink implements WorkerLink {
  private static final System.Logger LOG = System.getLogger(PipeWorkerLink.class.getName());
  // Bytes waiting beyond which the link takes no new tasks (control messages still queue).
  static final long OUTBOX_LIMIT_BYTES = 4L << 20;

  private final String name;
  private final OutputStream stdin;
  private final FrameWriter writer;
  private final ArrayDeque<byte[]> outbox = new ArrayDeque<>();
  private long queuedBytes;
  private boolean closed;
  private boolean closeAfterDrain;
  private volatile boolean full;
  private volatile Runnable whenWritable = () -> {};

  PipeWorkerLink(String name, OutputStream stdin) {
    this.name = name;
    this.stdin = stdin;
    this.writer = new FrameWriter(stdin, LinkFrames.MAX_MESSAGE_BYTES);
    Thread.ofPlatform().name("weft-pipe-writer-" + name).daemon(true).start(this::drain);
  }

  @Override
  public void send(CoordinatorMessage message) {
    byte[] bytes = message.toByteArray();
    synchronized (outbox) {
      if (closed || closeAfterDrain) {
        return;
      }
      outbox.addLast(bytes);
      queuedBytes += bytes.length;
      if (queuedBytes > OUTBOX_LIMIT_BYTES) {
        full = true;
      }
      outbox.notify();
    }
  }

  @Override
  public boolean isWritable() {
    return !full;
  }

  @Override
  public void whenWritable(Runnable action) {
    whenWritable = action;
  }

  /** The writer thread: everything queued goes out in order, flushed once per batch. */
  private void drain() {
    try {
      while (true) {
        byte[] next;
        boolean last;
        synchronized (outbox) {
          while (outbox.isEmpty() && !closed && !closeAfterDrain) {
            outbox.wait();
          }
          if (closed || (outbox.isEmpty() && closeAfterDrain)) {
            break;
          }
          next = outbox.pollFirst();
          last = outbox.isEmpty();
        }
        writer.write(LinkFrames.COORDINATOR_MESSAGE, next);
        if (last) {
          writer.flush();
        }
        boolean roomAgain;
        synchronized (outbox) {
          queuedBytes = Math.max(0, queuedBytes - next.length);
          roomAgain = full && queuedBytes <= OUTBOX_LIMIT_BYTES / 2;
          if (roomAgain) {
            full = false;
          }
        }
        if (roomAgain) {
          whenWritable.run();
        }
      }
    } catch (IOException e) {
      // The worker's stdin is gone, so is the worker: its stdout's end reports that.
      LOG.log(System.Logger.Level.DEBUG, "pipe to " + name + " closed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (outbox) {
      closed = true;
      outbox.clear();
    }
    try {
      stdin.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "closing the pipe to " + name, e);
    }
  }

  @Override
  public Transport transport() {
    return Transport.PIPE;
  }

  /**
   * Closing stdin is how a spawned worker is told to leave: it says goodbye and exits. What is
   * still queued is dropped (the coordinator has let the worker go, so its tasks count no more);
   * the writer closes the pipe once the frame it may be writing is out, so nothing here waits on
   * it.
   */
  @Override
  public void close(String reason) {
    synchronized (outbox) {
      closeAfterDrain = true;
      outbox.clear();
      queuedBytes = 0;
      outbox.notify();
    }
  }

  @Override
  public void refuse(Status status) {
    LOG.log(System.Logger.Level.WARNING, "local worker {0} refused: {1}", name, status);
    close(String.valueOf(status.getDescription()));
  }
}
