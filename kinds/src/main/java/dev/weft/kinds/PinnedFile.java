package dev.weft.kinds;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Opens a file for reading at exactly the path given, never through a symbolic link, and proves
 * that the open file is the one at that path: {@code NOFOLLOW_LINKS} covers only the last part of a
 * path, so a directory on the way swapped for a link between a check and the open would otherwise
 * lead elsewhere. The kernel's own name for the open file ({@code /proc/self/fd/N}) must be the
 * path asked for. Linux only, as weft is.
 *
 * <p>Java does not give a channel's descriptor number, so the channel is first moved to a random
 * position, and found as the one descriptor at that position in {@code /proc/self/fdinfo}.
 */
final class PinnedFile {
  private static final Path FDS = Path.of("/proc/self/fd");
  private static final Path FD_INFO = Path.of("/proc/self/fdinfo");
  private static final long MARK_FROM = 1L << 20;
  private static final long MARK_TO = 1L << 31;
  private static final int MARK_TRIES = 3;

  private PinnedFile() {}

  /**
   * The file at {@code path} (absolute, without links or {@code ..}), opened for reading.
   *
   * @throws NotPinnedException when what was opened is not the file at {@code path}: a link, or a
   *     path that changed while it was opened
   * @throws IOException when it cannot be opened (a link as its last part: ELOOP)
   */
  static FileChannel open(Path path) throws IOException {
    FileChannel channel =
        FileChannel.open(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    try {
      Path opened = nameOf(channel);
      if (!opened.equals(path)) {
        throw new NotPinnedException(
            path + " led to " + opened + " (a symbolic link, or it changed while it was opened)");
      }
      return channel;
    } catch (IOException | RuntimeException e) {
      try {
        channel.close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** What the kernel calls the file open on {@code channel}. */
  private static Path nameOf(FileChannel channel) throws IOException {
    for (int tries = 0; tries < MARK_TRIES; tries++) {
      // Positional reads do not use the position, so the mark costs the channel nothing. Small
      // enough for any file system's largest offset (lseek refuses one past it).
      long mark = ThreadLocalRandom.current().nextLong(MARK_FROM, MARK_TO);
      channel.position(mark);
      List<Path> marked = descriptorsAt(mark);
      if (marked.size() == 1) {
        return Files.readSymbolicLink(FDS.resolve(marked.getFirst().getFileName()));
      }
      // None: not a descriptor of ours after all; several: another file is at that offset.
    }
    throw new IOException("cannot tell the open file among this process's descriptors");
  }

  private static List<Path> descriptorsAt(long position) throws IOException {
    String wanted = "pos:\t" + position;
    List<Path> found = new ArrayList<>(1);
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(FD_INFO)) {
      for (Path info : fds) {
        List<String> lines;
        try {
          lines = Files.readAllLines(info);
        } catch (NoSuchFileException closedMeanwhile) {
          continue; // another thread's descriptor, closed between the listing and the read
        }
        if (!lines.isEmpty() && lines.getFirst().equals(wanted)) {
          found.add(info);
        }
      }
    }
    return found;
  }

  /** The open file is not the one at the path asked for. */
  static final class NotPinnedException extends IOException {
    private static final long serialVersionUID = 1L;

    NotPinnedException(String message) {
      super(message);
    }
  }
}
