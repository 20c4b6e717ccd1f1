package dev.weft.worker;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.local.FrameHandler;
import dev.weft.local.FrameReader;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.wire.LinkFrames;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;

/**
 * A worker spawned by its coordinator, linked by its stdin and stdout: one session, and when the
 * coordinator closes the pipe the worker stops.
 */
final class StdioSession implements Runnable {
  private static final System.Logger LOG = System.getLogger(StdioSession.class.getName());
  private static final int BUFFER_BYTES = 1 << 16;

  private final SessionHost host;
  private final ResultBatcher results;

  StdioSession(SessionHost host, ResultBatcher results) {
    this.host = host;
    this.results = results;
  }

  @Override
  public void run() {
    // Our stdout is the link: anything else that prints must go to stderr.
    PipeCoordinatorLink link =
        new PipeCoordinatorLink(
            new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), BUFFER_BYTES));
    System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
    InputStream in = new BufferedInputStream(new FileInputStream(FileDescriptor.in), BUFFER_BYTES);
    CoordinatorSession session = host.open(link);
    if (session == null) {
      return;
    }
    session.start(host.hello());
    String reason = read(in, session);
    LOG.log(System.Logger.Level.INFO, "{0}; stopping", reason);
    session.ended(reason);
    host.closed(session);
    host.stop();
  }

  /** Reads frames until the pipe ends; returns why it ended. */
  private String read(InputStream in, CoordinatorSession session) {
    FrameReader reader = new FrameReader(in, LinkFrames.MAX_MESSAGE_BYTES, LinkFrames.MAX_TYPE);
    Burst burst = new Burst(session);
    try {
      while (true) {
        // Everything the coordinator has written so far is one read: the results of the tasks
        // it brought leave together once the pipe has nothing more buffered.
        try {
          do {
            if (!reader.read(burst)) {
              return "the coordinator closed the pipe";
            }
          } while (in.available() > 0);
        } finally {
          burst.end();
        }
      }
    } catch (IOException | IllegalStateException e) {
      return "the pipe from the coordinator failed: " + e.getMessage();
    }
  }

  /**
   * The frames of one read. The reader counts as busy from its first frame, not while it waits for
   * one: a wait must not hold back the results of tasks that end meanwhile.
   */
  private final class Burst implements FrameHandler {
    private final CoordinatorSession session;
    private boolean busy;

    Burst(CoordinatorSession session) {
      this.session = session;
    }

    @Override
    public void onFrame(int type, ByteBuffer payload) {
      if (!busy) {
        results.readerBusy();
        busy = true;
      }
      session.onMessage(parse(payload));
    }

    void end() {
      if (busy) {
        busy = false;
        results.readerDone();
      }
    }
  }

  private static CoordinatorMessage parse(ByteBuffer payload) {
    try {
      return CoordinatorMessage.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("unreadable frame from the coordinator", e);
    }
  }
}
