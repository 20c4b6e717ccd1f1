package dev.weft.kinds;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * One output stream of a task, kept in two alternating segment files of at most {@code
 * segmentBytes} each, named by the stream offset of their first byte ({@code stdout.0}, then {@code
 * stdout.SEGMENTBYTES}, ...): when the newer one is full a third begins and the oldest is deleted,
 * so the newest {@code segmentBytes} of the stream are always on disk, and never more than twice
 * that. Only the pump thread of the stream calls it; readers find the segments by their names.
 */
final class SegmentedLogWriter implements TaskLogSink {
  private static final System.Logger LOG = System.getLogger(SegmentedLogWriter.class.getName());
  private static final Set<OpenOption> CREATE =
      Set.of(
          StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE,
          LinkOption.NOFOLLOW_LINKS);

  private final Path directory;
  private final String prefix;
  private final long segmentBytes;
  private final Runnable onClose;
  private FileChannel channel; // null once closed or failed
  private long segmentStart;
  private long inSegment;
  private long previousStart = -1;
  private boolean closed;

  private SegmentedLogWriter(
      Path directory, LogStream stream, long segmentBytes, Runnable onClose) {
    this.directory = directory;
    this.prefix = stream.fileName() + ".";
    this.segmentBytes = segmentBytes;
    this.onClose = onClose;
  }

  /** Opens the stream's first segment (empty), so a task that printed nothing has a log too. */
  static SegmentedLogWriter open(
      Path directory, LogStream stream, long segmentBytes, Runnable onClose) throws IOException {
    SegmentedLogWriter writer = new SegmentedLogWriter(directory, stream, segmentBytes, onClose);
    writer.channel = writer.openSegment(0);
    return writer;
  }

  static String segmentName(LogStream stream, long start) {
    return stream.fileName() + "." + start;
  }

  private FileChannel openSegment(long start) throws IOException {
    return FileChannel.open(
        directory.resolve(prefix + start),
        CREATE,
        PosixFilePermissions.asFileAttribute(
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    if (channel == null) {
      return;
    }
    try {
      int at = offset;
      int left = length;
      while (left > 0) {
        if (inSegment == segmentBytes) {
          roll();
        }
        int n = (int) Math.min(left, segmentBytes - inSegment);
        ByteBuffer buffer = ByteBuffer.wrap(bytes, at, n);
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        inSegment += n;
        at += n;
        left -= n;
      }
    } catch (IOException e) {
      fail(e);
    }
  }

  private void roll() throws IOException {
    channel.close();
    if (previousStart >= 0) {
      Files.deleteIfExists(directory.resolve(prefix + previousStart));
    }
    previousStart = segmentStart;
    segmentStart += segmentBytes;
    inSegment = 0;
    channel = openSegment(segmentStart);
  }

  private void fail(IOException e) {
    LOG.log(
        System.Logger.Level.WARNING,
        "stopped keeping the task log {0}: {1}; the task runs on",
        directory.resolve(prefix + segmentStart),
        String.valueOf(e.getMessage()));
    closeChannel();
  }

  private void closeChannel() {
    FileChannel open = channel;
    channel = null;
    if (open == null) {
      return;
    }
    try {
      open.close();
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "closing the task log {0} failed: {1}",
          directory.resolve(prefix + segmentStart),
          String.valueOf(e.getMessage()));
    }
  }

  @Override
  public void close() {
    closeChannel();
    if (!closed) {
      closed = true;
      onClose.run();
    }
  }
}
