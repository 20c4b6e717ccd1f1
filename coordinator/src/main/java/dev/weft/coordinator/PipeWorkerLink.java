package dev.weft.coordinator;

import dev.weft.local.FrameWriter;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.wire.LinkFrames;
import io.grpc.Status;
import java.io.IOException;
import java.io.OutputStream;

/** A worker this coordinator spawned, reached through its stdin: one frame per message. */
final class PipeWorkerLink implements WorkerLink {
  private static final System.Logger LOG = System.getLogger(PipeWorkerLink.class.getName());

  private final String name;
  private final OutputStream stdin;
  private final FrameWriter writer;
  private boolean closed;

  PipeWorkerLink(String name, OutputStream stdin) {
    this.name = name;
    this.stdin = stdin;
    this.writer = new FrameWriter(stdin, LinkFrames.MAX_MESSAGE_BYTES);
  }

  @Override
  public synchronized void send(CoordinatorMessage message) {
    if (closed) {
      return;
    }
    try {
      writer.write(LinkFrames.COORDINATOR_MESSAGE, message.toByteArray());
      writer.flush();
    } catch (IOException e) {
      // The worker's stdin is gone, so is the worker: its stdout's end reports that.
      LOG.log(System.Logger.Level.DEBUG, "pipe to " + name + " closed", e);
      closed = true;
    }
  }

  @Override
  public String transport() {
    return "pipe";
  }

  /** Closing stdin is how a spawned worker is told to leave: it says goodbye and exits. */
  @Override
  public synchronized void close(String reason) {
    if (closed) {
      return;
    }
    closed = true;
    try {
      stdin.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.DEBUG, "closing the pipe to " + name, e);
    }
  }

  @Override
  public void refuse(Status status) {
    LOG.log(System.Logger.Level.WARNING, "local worker {0} refused: {1}", name, status);
    close(String.valueOf(status.getDescription()));
  }
}
