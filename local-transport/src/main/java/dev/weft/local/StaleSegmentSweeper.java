package dev.weft.local;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Removes segment files that nobody will unlink: their creator is gone (its pid no longer runs, or
 * runs a process that started at another time) or closed them, or they are not readable as a
 * segment at all and old enough that no creator can still be writing their header.
 *
 * <p>Reads headers with plain reads rather than mapping them: a file truncated by someone else
 * while mapped would fault. Skips files that belong to another user or are not regular files.
 */
final class StaleSegmentSweeper {
  private StaleSegmentSweeper() {}

  static List<Path> sweep(Path directory, Duration unparsableAge, long nowMs) throws IOException {
    List<Path> removed = new ArrayList<>();
    int uid = HostIdentity.currentUid();
    try (DirectoryStream<Path> files =
        Files.newDirectoryStream(directory, ShmConfig.NAME_PREFIX + "*")) {
      for (Path file : files) {
        try {
          if (isStale(file, uid, unparsableAge, nowMs) && Files.deleteIfExists(file)) {
            removed.add(file);
          }
        } catch (NoSuchFileException e) {
          // Unlinked by its owner while we looked: nothing left to sweep.
        }
      }
    }
    return removed;
  }

  private static boolean isStale(Path file, int uid, Duration unparsableAge, long nowMs)
      throws IOException {
    PosixFileAttributes attributes =
        Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    Object owner = Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    if (!attributes.isRegularFile() || !(owner instanceof Integer ownerUid) || ownerUid != uid) {
      return false;
    }
    try (FileChannel channel =
            FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        Arena arena = Arena.ofConfined()) {
      long size = channel.size();
      MemorySegment header = arena.allocate(SegmentDescriptor.HEADER_LENGTH, Long.BYTES);
      ByteBuffer into = header.asByteBuffer();
      while (into.hasRemaining() && channel.read(into) >= 0) {
        // read until the header is full or the file ends
      }
      SegmentDescriptor.Header parsed = SegmentDescriptor.parse(header, size, file);
      return parsed.creatorClosed()
          || !ProcessLiveness.isAlive(parsed.creatorPid(), parsed.creatorStartMs());
    } catch (SegmentFormatException e) {
      long ageMs = nowMs - attributes.lastModifiedTime().toMillis();
      return ageMs > unparsableAge.toMillis();
    }
  }
}
