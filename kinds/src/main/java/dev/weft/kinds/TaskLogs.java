package dev.weft.kinds;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The logs a worker keeps of its exec tasks' output streams, in a directory only its user may
 * enter:
 *
 * <pre>
 *   DIR/                       mode 0700
 *     JOB/                     the job id, made safe by {@link LogNames}
 *       TASK.ATTEMPT/          task index and attempt number
 *         stdout.OFFSET        segments, named by the stream offset of their first byte
 *         stderr.OFFSET
 * </pre>
 *
 * Each stream keeps its newest {@code maxBytes} (see {@link SegmentedLogWriter}); readers are
 * served no older bytes than those even while two segments hold more. Attempts whose files were
 * last written longer ago than the retention are removed by {@link #sweep}. Symbolic links are
 * never followed: the directories are created here and checked to be directories, and files are
 * opened with {@code O_NOFOLLOW}.
 */
public final class TaskLogs {
  public static final long DEFAULT_MAX_BYTES = 1L << 20;

  /** The most a chunk read at once holds. */
  public static final int MAX_CHUNK = 64 * 1024;

  private static final System.Logger LOG = System.getLogger(TaskLogs.class.getName());
  private static final Set<PosixFilePermission> OWNER_ONLY =
      EnumSet.of(
          PosixFilePermission.OWNER_READ,
          PosixFilePermission.OWNER_WRITE,
          PosixFilePermission.OWNER_EXECUTE);

  private final Path root;
  private final long maxBytes;
  // Streams being written: the sweep leaves their attempts alone, and readers learn more may come.
  private final Set<Path> writing = ConcurrentHashMap.newKeySet();

  private TaskLogs(Path root, long maxBytes) {
    this.root = root;
    this.maxBytes = maxBytes;
  }

  /**
   * The logs under {@code root}, created with mode 0700 if it does not exist (its parents as
   * usual).
   *
   * @throws IOException if it cannot be created, or is not a directory of this user that only it
   *     may enter (a symbolic link, for one)
   */
  public static TaskLogs open(Path root, long maxBytes) throws IOException {
    if (maxBytes < 1) {
      throw new IllegalArgumentException("task logs must keep at least 1 byte, got " + maxBytes);
    }
    Path absolute = root.toAbsolutePath();
    if (absolute.getParent() != null) {
      Files.createDirectories(absolute.getParent());
    }
    ensureDirectory(absolute);
    PosixFileAttributes attributes =
        Files.readAttributes(absolute, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    int owner = (Integer) Files.getAttribute(absolute, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    if (owner != uid) {
      throw new IOException(
          absolute + " belongs to uid " + owner + ", not to this worker's uid " + uid);
    }
    if (!attributes.permissions().equals(OWNER_ONLY)) {
      Files.setPosixFilePermissions(absolute, OWNER_ONLY);
    }
    return new TaskLogs(absolute, maxBytes);
  }

  /**
   * The default directory of worker {@code workerId}'s logs: {@code
   * $XDG_STATE_HOME/weft/task-logs/ID}, or {@code ~/.local/state/weft/task-logs/ID}.
   */
  public static Path defaultDirectory(String workerId) {
    String state = System.getenv("XDG_STATE_HOME");
    Path base =
        state != null && state.startsWith("/")
            ? Path.of(state)
            : Path.of(System.getProperty("user.home"), ".local", "state");
    return base.resolve("weft").resolve("task-logs").resolve(LogNames.encode(workerId));
  }

  public Path root() {
    return root;
  }

  public long maxBytes() {
    return maxBytes;
  }

  /** The directory of one attempt's logs (which may not exist). */
  public Path attemptDirectory(String jobId, int task, int attempt) {
    if (task < 0 || attempt < 0) {
      throw new IllegalArgumentException(
          "task and attempt must not be negative, got task " + task + " attempt " + attempt);
    }
    return root.resolve(LogNames.encode(jobId)).resolve(task + "." + attempt);
  }

  /** Starts keeping {@code stream} of an attempt; the sink removes nothing older than its own. */
  public TaskLogSink open(String jobId, int task, int attempt, LogStream stream)
      throws IOException {
    Path directory = attemptDirectory(jobId, task, attempt);
    ensureDirectory(directory.getParent());
    ensureDirectory(directory);
    Path key = directory.resolve(stream.fileName());
    writing.add(key);
    try {
      return SegmentedLogWriter.open(directory, stream, maxBytes, () -> writing.remove(key));
    } catch (IOException e) {
      writing.remove(key);
      throw e;
    }
  }

  /** Creates {@code directory} with mode 0700, or checks that the one there is a directory. */
  private static void ensureDirectory(Path directory) throws IOException {
    try {
      Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } catch (FileAlreadyExistsException e) {
      BasicFileAttributes attributes =
          Files.readAttributes(directory, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (!attributes.isDirectory()) {
        throw new IOException(
            directory
                + " is "
                + (attributes.isSymbolicLink() ? "a symbolic link" : "not a directory")
                + "; task logs go only into directories the worker made",
            e);
      }
    }
  }

  /**
   * Up to {@code limit} bytes of an attempt's stream from {@code offset} on (or from the oldest
   * byte kept, if that is later), or nothing when the attempt left no log here.
   */
  public Optional<TaskLogChunk> read(
      String jobId, int task, int attempt, LogStream stream, long offset, int limit)
      throws IOException {
    Path directory = attemptDirectory(jobId, task, attempt);
    boolean open = writing.contains(directory.resolve(stream.fileName()));
    // A segment listed can be deleted by the writer before it is read: then list again.
    for (int tries = 0; ; tries++) {
      try {
        return readOnce(directory, stream, offset, Math.min(limit, MAX_CHUNK), open);
      } catch (NoSuchFileException e) {
        if (tries == 2) {
          throw e;
        }
      }
    }
  }

  private Optional<TaskLogChunk> readOnce(
      Path directory, LogStream stream, long offset, int limit, boolean open) throws IOException {
    if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty();
    }
    List<Long> starts = segmentStarts(directory, stream);
    if (starts.isEmpty()) {
      return Optional.empty();
    }
    long lastStart = starts.getLast();
    long end =
        lastStart + size(directory.resolve(SegmentedLogWriter.segmentName(stream, lastStart)));
    long first = Math.max(starts.getFirst(), end - maxBytes);
    long from = Math.min(Math.max(offset, first), end);
    if (from == end || limit <= 0) {
      return Optional.of(new TaskLogChunk(from, new byte[0], first, end, open));
    }
    long segment = lastStart;
    for (long start : starts) {
      if (start <= from) {
        segment = start;
      }
    }
    long segmentEnd = segment == lastStart ? end : nextStart(starts, segment);
    int length = (int) Math.min(limit, segmentEnd - from);
    byte[] data = new byte[length];
    try (FileChannel channel =
        FileChannel.open(
            directory.resolve(SegmentedLogWriter.segmentName(stream, segment)),
            StandardOpenOption.READ,
            LinkOption.NOFOLLOW_LINKS)) {
      ByteBuffer buffer = ByteBuffer.wrap(data);
      long position = from - segment;
      while (buffer.hasRemaining()) {
        int n = channel.read(buffer, position);
        if (n < 0) {
          break;
        }
        position += n;
      }
      if (buffer.hasRemaining()) {
        data = java.util.Arrays.copyOf(data, buffer.position());
      }
    }
    return Optional.of(new TaskLogChunk(from, data, first, end, open));
  }

  private static long nextStart(List<Long> starts, long segment) {
    for (long start : starts) {
      if (start > segment) {
        return start;
      }
    }
    throw new IllegalStateException("no segment after " + segment);
  }

  private static long size(Path file) throws IOException {
    return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).size();
  }

  /** The offsets the stream's segments start at, in order; names that are not segments are left. */
  private static List<Long> segmentStarts(Path directory, LogStream stream) throws IOException {
    String prefix = stream.fileName() + ".";
    List<Long> starts = new ArrayList<>(2);
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, prefix + "*")) {
      for (Path file : files) {
        String digits = file.getFileName().toString().substring(prefix.length());
        if (!digits.isEmpty()
            && digits.length() <= 18
            && digits.chars().allMatch(Character::isDigit)) {
          starts.add(Long.parseLong(digits));
        }
      }
    }
    starts.sort(null);
    return starts;
  }

  /**
   * Removes the logs of attempts last written before {@code now - retention} and not being written,
   * and job directories left empty. Returns how many attempts it removed; a file it cannot remove
   * is reported in the worker's log and left.
   */
  public int sweep(Duration retention, Instant now) throws IOException {
    FileTime cutoff = FileTime.from(now.minus(retention));
    int removed = 0;
    try (DirectoryStream<Path> jobs = Files.newDirectoryStream(root)) {
      for (Path job : jobs) {
        if (!Files.isDirectory(job, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        try (DirectoryStream<Path> attempts = Files.newDirectoryStream(job)) {
          for (Path attempt : attempts) {
            if (Files.isDirectory(attempt, LinkOption.NOFOLLOW_LINKS)
                && !beingWritten(attempt)
                && lastWritten(attempt).compareTo(cutoff) < 0
                && remove(attempt)) {
              removed++;
            }
          }
        }
        try {
          Files.deleteIfExists(job);
        } catch (java.nio.file.DirectoryNotEmptyException e) {
          // Attempts still kept, or one being written.
        }
      }
    }
    return removed;
  }

  private boolean beingWritten(Path attempt) {
    for (LogStream stream : LogStream.values()) {
      if (writing.contains(attempt.resolve(stream.fileName()))) {
        return true;
      }
    }
    return false;
  }

  /** The newest modification time of the directory and the files in it. */
  private static FileTime lastWritten(Path attempt) throws IOException {
    FileTime newest =
        Files.readAttributes(attempt, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
            .lastModifiedTime();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(attempt)) {
      for (Path file : files) {
        FileTime modified =
            Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .lastModifiedTime();
        if (modified.compareTo(newest) > 0) {
          newest = modified;
        }
      }
    }
    return newest;
  }

  /**
   * Deletes an attempt's files (links themselves, never what they point to), then its directory.
   */
  private static boolean remove(Path attempt) {
    try {
      try (DirectoryStream<Path> files = Files.newDirectoryStream(attempt)) {
        for (Path file : files) {
          Files.deleteIfExists(file);
        }
      }
      Files.deleteIfExists(attempt);
      return true;
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "could not remove the old task logs in {0}: {1}",
          attempt,
          String.valueOf(e.getMessage()));
      return false;
    }
  }
}
