package dev.weft.examples.wordcount;

import com.google.protobuf.ByteString;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.JobReduction;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskFailedException;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PluginParams;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * {@code wordcount}: how many words (maximal runs of non-whitespace bytes) a file holds. The
 * coordinator splits the file into byte ranges, one per task, without reading it; each worker reads
 * its range from the file at the same path on its own host and counts the words that start in it,
 * so a word that crosses the end of a range is counted once, by the range where it starts.
 *
 * <pre>
 * weft submit plugin wordcount -p path=/data/books.txt --tasks 8 --wait
 * </pre>
 */
public final class WordCountKind implements JobKind {
  static final String NAME = "wordcount";
  static final String PATH = "path";

  /** Without {@code --tasks} or {@code --task-size}: one task per this many bytes. */
  static final long DEFAULT_TASK_BYTES = 16L << 20;

  // Bytes read at a time; cancellation is checked between reads.
  private static final int BLOCK_BYTES = 1 << 20;

  public WordCountKind() {}

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasPlugin()) {
      throw new InvalidJobException("params", "a wordcount job needs plugin parameters");
    }
    PluginParams params = spec.getPlugin();
    for (String key : params.getArgsMap().keySet()) {
      if (!key.equals(PATH)) {
        throw new InvalidJobException(
            "plugin.args",
            "unknown parameter '" + key + "'; wordcount takes only " + PATH + " (-p path=FILE)");
      }
    }
    if (!params.getData().isEmpty()) {
      throw new InvalidJobException(
          "plugin.data", "wordcount takes no data (--data); name the file with -p path=FILE");
    }
    String name = params.getArgsOrDefault(PATH, "");
    long size = checkFile(name);
    return new ChunkPlan(name, size, taskCount(spec, size));
  }

  /** The size of the file {@code name}, which must be a regular file the coordinator can read. */
  private static long checkFile(String name) throws InvalidJobException {
    String field = "plugin.args." + PATH;
    if (name.isEmpty()) {
      throw new InvalidJobException(field, "missing: name the file to count with -p path=FILE");
    }
    Path path;
    try {
      path = Path.of(name);
    } catch (InvalidPathException e) {
      throw new InvalidJobException(field, "not a valid path: " + e.getMessage());
    }
    if (!path.isAbsolute()) {
      // The coordinator and each worker would resolve it against a working directory of their own.
      throw new InvalidJobException(
          field,
          "must be an absolute path, which the workers open on their own hosts (got '"
              + name
              + "')");
    }
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new InvalidJobException(field, "no such file: " + name);
    } catch (IOException e) {
      throw new InvalidJobException(field, "cannot read " + name + ": " + e.getMessage());
    }
    if (attributes.isDirectory()) {
      throw new InvalidJobException(field, "is a directory, not a file: " + name);
    }
    if (!attributes.isRegularFile()) {
      throw new InvalidJobException(field, "not a regular file: " + name);
    }
    // Opened once here so that a file nobody may read is refused at submit, not by every task.
    try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ)) {
      return attributes.size();
    } catch (AccessDeniedException e) {
      throw new InvalidJobException(field, "not readable by the coordinator's user: " + name);
    } catch (IOException e) {
      throw new InvalidJobException(field, "cannot open " + name + ": " + e.getMessage());
    }
  }

  /**
   * {@code tasks}, or the file's size over {@code task_size} (or {@link #DEFAULT_TASK_BYTES});
   * never more tasks than bytes, so that no task is empty except the one task of an empty file.
   */
  static int taskCount(JobSpec spec, long size) throws InvalidJobException {
    int tasks = spec.getTasks();
    long taskSize = spec.getTaskSize();
    if (tasks != 0 && taskSize != 0) {
      throw new InvalidJobException("tasks", "set tasks or task_size, not both");
    }
    if (tasks < 0 || tasks > JobKinds.MAX_TASKS) {
      throw new InvalidJobException(
          "tasks",
          "must be between 1 and "
              + JobKinds.MAX_TASKS
              + ", or 0 for one task per "
              + DEFAULT_TASK_BYTES
              + " bytes (got "
              + tasks
              + ")");
    }
    if (taskSize < 0) {
      throw new InvalidJobException(
          "task_size", "bytes per task: must be >= 1, or 0 for the default (got " + taskSize + ")");
    }
    long count =
        tasks != 0 ? tasks : Math.ceilDiv(size, taskSize != 0 ? taskSize : DEFAULT_TASK_BYTES);
    if (count > JobKinds.MAX_TASKS) {
      throw new InvalidJobException(
          "task_size",
          taskSize
              + " bytes per task give "
              + count
              + " tasks for "
              + size
              + " bytes; at most "
              + JobKinds.MAX_TASKS
              + " tasks per job, so task_size must be >= "
              + Math.ceilDiv(size, JobKinds.MAX_TASKS));
    }
    return (int) Math.max(1, Math.min(count, size));
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    Chunk chunk = Chunk.decode(input);
    try (FileChannel file = FileChannel.open(Path.of(chunk.path()), StandardOpenOption.READ)) {
      long size = file.size();
      if (size != chunk.fileSize()) {
        throw new TaskFailedException(
            "wordcount: "
                + chunk.path()
                + " is "
                + size
                + " bytes on this worker, but was "
                + chunk.fileSize()
                + " bytes when the job was submitted: the file changed, or this host has another"
                + " file at that path");
      }
      WordStarts words = new WordStarts(chunk.from() > 0 && inWord(file, chunk));
      ByteBuffer block = ByteBuffer.allocate((int) Math.min(BLOCK_BYTES, chunk.length()));
      for (long at = chunk.from(); at < chunk.to(); ) {
        context.checkCancelled();
        block.clear().limit((int) Math.min(block.capacity(), chunk.to() - at));
        int read = file.read(block, at);
        if (read < 0) {
          throw new TaskFailedException(
              "wordcount: " + chunk.path() + " ended at byte " + at + " while it was being read");
        }
        words.add(block.array(), 0, read);
        at += read;
      }
      return ByteString.copyFrom(ByteBuffer.allocate(Long.BYTES).putLong(0, words.count()));
    } catch (NoSuchFileException e) {
      throw new TaskFailedException("wordcount: no such file on this worker: " + chunk.path());
    } catch (AccessDeniedException e) {
      throw new TaskFailedException(
          "wordcount: " + chunk.path() + " is not readable by this worker's user");
    } catch (IOException e) {
      throw new TaskFailedException("wordcount: cannot read " + chunk.path() + ": " + e);
    }
  }

  /** Whether the byte before the chunk belongs to a word, whose start an earlier chunk counted. */
  private static boolean inWord(FileChannel file, Chunk chunk)
      throws IOException, TaskFailedException {
    ByteBuffer one = ByteBuffer.allocate(1);
    if (file.read(one, chunk.from() - 1) != 1) {
      throw new TaskFailedException(
          "wordcount: " + chunk.path() + " ended before byte " + chunk.from());
    }
    return !WordStarts.isSpace(one.get(0));
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    if (!(plan instanceof ChunkPlan chunks)) {
      throw new IllegalArgumentException("a wordcount reduction needs the plan of WordCountKind");
    }
    return new WordTally(chunks);
  }
}
