package dev.weft.worker;

import dev.weft.local.FrameWriter;
import dev.weft.v1.WorkerMessage;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import java.io.IOException;
import java.io.OutputStream;

/** A worker spawned by its coordinator: frames on its stdout, one WorkerMessage each. */
final class PipeCoordinatorLink implements CoordinatorLink {
  private static final System.Logger LOG = System.getLogger(PipeCoordinatorLink.class.getName());

  private final OutputStream out;
  private final FrameWriter writer;
  private boolean closed;

  PipeCoordinatorLink(OutputStream out) {
    this.out = out;
    this.writer = new FrameWriter(out, LinkFrames.MAX_MESSAGE_BYTES);
  }

  @Override
  public synchronized void send(WorkerMessage message) {
    if (closed) {
      return;
    }
    try {
      writer.write(LinkFrames.WORKER_MESSAGE, message.toByteArray());
      writer.flush();
    } catch (IOException e) {
      // The coordinator closed our stdout: it is gone, and stdin's end will end the session.
      LOG.log(System.Logger.Level.DEBUG, "pipe to the coordinator closed", e);
      closed = true;
    }
  }

  @Override
  public String peer() {
    return "stdin/stdout";
  }

  @Override
  public Transport transport() {
    return Transport.PIPE;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      try {
        out.close();
      } catch (IOException e) {
        LOG.log(System.Logger.Level.DEBUG, "closing the pipe to the coordinator", e);
      }
    }
  }
}
