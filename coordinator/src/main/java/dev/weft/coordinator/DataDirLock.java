package dev.weft.coordinator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Holds a data dir for one coordinator: an exclusive lock on {@code coordinator.lock} in it, which
 * the kernel releases when the process dies however it dies, so a SIGKILLed coordinator never
 * leaves a stale lock. The file holds the holder's pid, for the message the next one prints.
 */
final class DataDirLock implements AutoCloseable {
  static final String FILE_NAME = "coordinator.lock";

  private final FileChannel channel;
  private final FileLock lock;

  private DataDirLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /** Creates the directory (mode 0700) if needed and locks it, or says who holds it. */
  static DataDirLock acquire(Path dir) throws DataDirException {
    createPrivateDirectory(dir);
    Path file = dir.resolve(FILE_NAME);
    FileChannel channel;
    try {
      channel =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new DataDirException(
          "cannot open " + file + " (" + e.getMessage() + "); choose another with --data-dir DIR",
          e);
    }
    try {
      FileLock lock = tryLock(channel);
      if (lock != null) {
        channel.truncate(0);
        channel.write(
            ByteBuffer.wrap(
                (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)),
            0);
        return new DataDirLock(channel, lock);
      }
    } catch (IOException e) {
      closeQuietly(channel, e);
      throw new DataDirException("cannot lock " + file + ": " + e.getMessage(), e);
    }
    String holder = holder(channel);
    DataDirException refused =
        new DataDirException(
            "the data dir "
                + dir
                + " is in use by another coordinator"
                + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                + "; stop it first, or give this one a data dir of its own with --data-dir DIR");
    closeQuietly(channel, refused);
    throw refused;
  }

  /** The lock, or null when another holds it (another process, or this one). */
  private static FileLock tryLock(FileChannel channel) throws IOException {
    try {
      return channel.tryLock();
    } catch (OverlappingFileLockException e) {
      return null; // held by another coordinator in this very process
    }
  }

  private static void createPrivateDirectory(Path dir) throws DataDirException {
    try {
      if (!Files.isDirectory(dir)) {
        Files.createDirectories(dir.toAbsolutePath().getParent());
        Files.createDirectory(
            dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(dir)) {
        throw new DataDirException(
            "the data dir "
                + dir
                + " exists and is not a directory; choose another with --data-dir",
            e);
      }
    } catch (IOException e) {
      throw new DataDirException(
          "cannot create the data dir "
              + dir
              + " ("
              + e.getMessage()
              + "); choose another with --data-dir DIR",
          e);
    }
  }

  /** The pid the holder wrote, or empty when it cannot be read. */
  private static String holder(FileChannel channel) {
    try {
      ByteBuffer buffer = ByteBuffer.allocate(32);
      channel.read(buffer, 0);
      return new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
    } catch (IOException e) {
      return ""; // only the message loses the pid
    }
  }

  private static void closeQuietly(FileChannel channel, Exception cause) {
    try {
      channel.close();
    } catch (IOException e) {
      cause.addSuppressed(e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
