package dev.weft.examples.wordcount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.InvalidTaskOutputException;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.JobReduction;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskFailedException;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PluginParams;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WordCountKindTest {
  // The oracle: words as a regular expression finds them, whitespace spelled out as isspace's.
  private static final Pattern WORD = Pattern.compile("[^ \\t\\n\\x0B\\f\\r]+");

  private final WordCountKind kind = new WordCountKind();

  @TempDir Path dir;

  /** A task context that is never cancelled: these tasks run to the end. */
  private static final TaskContext RUNNING =
      new TaskContext() {
        @Override
        public boolean isCancelled() {
          return false;
        }

        @Override
        public void onCancel(Runnable action) {}

        @Override
        public long graceMs() {
          return 0;
        }
      };

  private static long oracle(byte[] content) {
    Matcher m = WORD.matcher(new String(content, StandardCharsets.ISO_8859_1));
    long words = 0;
    while (m.find()) {
      words++;
    }
    return words;
  }

  private Path file(String content) throws IOException {
    return file(content.getBytes(StandardCharsets.ISO_8859_1));
  }

  private Path file(byte[] content) throws IOException {
    return Files.write(Files.createTempFile(dir, "words-", ".txt"), content);
  }

  private static JobSpec spec(Map<String, String> args, int tasks) {
    return JobSpec.newBuilder()
        .setPlugin(PluginParams.newBuilder().setKind("wordcount").putAllArgs(args))
        .setTasks(tasks)
        .build();
  }

  private static JobSpec spec(Path file, int tasks) {
    return spec(Map.of("path", file.toString()), tasks);
  }

  private List<Long> perTask(JobSpec spec) throws Exception {
    try (TaskPlan plan = kind.plan(spec)) {
      List<Long> counts = new ArrayList<>();
      for (int task = 0; task < plan.taskCount(); task++) {
        counts.add(kind.run(plan.input(task), RUNNING).asReadOnlyByteBuffer().getLong());
      }
      return counts;
    }
  }

  /** Plans, runs every task in order and reduces, as the coordinator and a worker would. */
  private JobResult count(JobSpec spec) throws Exception {
    try (TaskPlan plan = kind.plan(spec)) {
      JobReduction reduction = kind.reduction(spec, plan);
      for (int task = 0; task < plan.taskCount(); task++) {
        reduction.add(task, kind.run(plan.input(task), RUNNING));
      }
      return reduction.result();
    }
  }

  private String invalid(JobSpec spec) {
    return assertThrows(InvalidJobException.class, () -> kind.plan(spec)).getMessage();
  }

  @Test
  void chunksAreContiguousAndDifferByAtMostOneByte() {
    ChunkPlan plan = new ChunkPlan("/f", 10, 3);
    assertEquals(
        List.of("[0, 4)", "[4, 7)", "[7, 10)"),
        List.of(0, 1, 2).stream()
            .map(t -> "[" + plan.chunk(t).from() + ", " + plan.chunk(t).to() + ")")
            .toList());
    assertEquals("bytes [4, 7) of /f", plan.describe(1));
    ChunkPlan huge = new ChunkPlan("/f", Long.MAX_VALUE, JobKinds.MAX_TASKS);
    assertEquals(Long.MAX_VALUE, huge.chunk(JobKinds.MAX_TASKS - 1).to());
  }

  @Test
  void aWordACutFallsInsideIsCountedByTheChunkWhereItStarts() throws Exception {
    Path f = file("hello world");
    // Chunks [0, 3) [3, 6) [6, 9) [9, 11): cuts inside "hello", at the start of "world", inside it.
    assertEquals(List.of(1L, 0L, 1L, 0L), perTask(spec(f, 4)));
    assertEquals("2", count(spec(f, 4)).getPlugin().getText());
  }

  @Test
  void cutsOnWhitespaceAndInRunsOfWhitespace() throws Exception {
    Path f = file("ab  \t\n cd\r\n\u000B\fef ");
    // 16 bytes in [0, 4) [4, 8) [8, 12) [12, 16): cuts in runs of whitespace (4, 12), inside "cd".
    assertEquals(List.of(1L, 1L, 0L, 1L), perTask(spec(f, 4)));
    // In chunks of 2 bytes: a cut right after "ab", one right before "c", one right before "e".
    assertEquals(List.of(1L, 0L, 0L, 1L, 0L, 0L, 1L, 0L), perTask(spec(f, 8)));
  }

  @Test
  void anEmptyFileIsOneTaskOfNoWords() throws Exception {
    Path f = file("");
    try (TaskPlan plan = kind.plan(spec(f, 8))) {
      assertEquals(1, plan.taskCount());
    }
    JobResult result = count(spec(f, 8));
    assertEquals("0", result.getPlugin().getText());
    assertEquals("0 words in " + f + " (0 bytes, 1 task)", result.getSummary());
  }

  @Test
  void aFileSmallerThanTheTaskCountGetsOneTaskPerByte() throws Exception {
    Path f = file("a b");
    try (TaskPlan plan = kind.plan(spec(f, 8))) {
      assertEquals(3, plan.taskCount());
    }
    assertEquals(List.of(1L, 0L, 1L), perTask(spec(f, 8)));
    assertEquals("2 words in " + f + " (3 bytes, 3 tasks)", count(spec(f, 8)).getSummary());
  }

  @Test
  void everyTaskCountGivesTheSameCountAsTheOracle() throws Exception {
    Random random = new Random(42);
    byte[] content = new byte[997];
    byte[] spaces = {' ', '\t', '\n', 0x0B, '\f', '\r'};
    for (int i = 0; i < content.length; ) {
      // Words of 1..12 bytes (any non-space byte, high bytes too), then runs of 1..4 spaces.
      for (int n = 1 + random.nextInt(12); n > 0 && i < content.length; n--) {
        byte b;
        do {
          b = (byte) random.nextInt(256);
        } while (WordStarts.isSpace(b));
        content[i++] = b;
      }
      for (int n = 1 + random.nextInt(4); n > 0 && i < content.length; n--) {
        content[i++] = spaces[random.nextInt(spaces.length)];
      }
    }
    Path f = file(content);
    long expected = oracle(content);
    assertTrue(expected > 100, "a test file of few words: " + expected);
    List<Integer> taskCounts = new ArrayList<>();
    for (int tasks = 1; tasks <= 64; tasks++) {
      taskCounts.add(tasks);
    }
    // One byte per task or nearly, and more tasks than bytes.
    taskCounts.addAll(List.of(content.length - 1, content.length, content.length + 3));
    for (int tasks : taskCounts) {
      assertEquals(
          Long.toString(expected), count(spec(f, tasks)).getPlugin().getText(), tasks + " tasks");
    }
  }

  @Test
  void taskSizeAndTheDefaultSizeTheTasks() throws Exception {
    Path f = file("x".repeat(10));
    try (TaskPlan plan = kind.plan(spec(f, 0).toBuilder().setTaskSize(4).build())) {
      assertEquals(3, plan.taskCount());
    }
    try (TaskPlan plan = kind.plan(spec(f, 0))) {
      assertEquals(1, plan.taskCount());
    }
    assertEquals(2, WordCountKind.taskCount(spec(f, 0), WordCountKind.DEFAULT_TASK_BYTES + 1));
  }

  @Test
  void badPathsAreRefusedWithTheirReason() throws Exception {
    assertEquals(
        "plugin.args.path: missing: name the file to count with -p path=FILE",
        invalid(spec(Map.of(), 2)));
    assertEquals(
        "plugin.args.path: must be an absolute path, which the workers open on their own hosts"
            + " (got 'books.txt')",
        invalid(spec(Map.of("path", "books.txt"), 2)));
    Path missing = dir.resolve("missing.txt");
    assertEquals(
        "plugin.args.path: no such file: " + missing,
        invalid(spec(Map.of("path", "" + missing), 2)));
    assertEquals(
        "plugin.args.path: is a directory, not a file: " + dir,
        invalid(spec(Map.of("path", "" + dir), 2)));
    assertEquals(
        "plugin.args.path: not a regular file: /dev/null",
        invalid(spec(Map.of("path", "/dev/null"), 2)));
  }

  @Test
  void anUnreadableFileIsRefusedAtSubmit() throws Exception {
    Path f = file("secret words");
    Files.setPosixFilePermissions(f, java.util.Set.of());
    // root reads any file; whoever else runs the test gets the refusal.
    org.junit.jupiter.api.Assumptions.assumeFalse(
        Files.isReadable(f), "this user can read a file of mode 000 (root)");
    assertEquals(
        "plugin.args.path: not readable by the coordinator's user: " + f, invalid(spec(f, 2)));
  }

  @Test
  void badArgumentsAreRefused() throws Exception {
    Path f = file("a b");
    assertEquals(
        "plugin.args: unknown parameter 'paht'; wordcount takes only path (-p path=FILE)",
        invalid(spec(Map.of("path", f.toString(), "paht", "x"), 2)));
    JobSpec withData =
        spec(f, 2).toBuilder()
            .setPlugin(spec(f, 2).getPlugin().toBuilder().setData(ByteString.copyFromUtf8("d")))
            .build();
    assertEquals(
        "plugin.data: wordcount takes no data (--data); name the file with -p path=FILE",
        invalid(withData));
    assertEquals(
        "tasks: set tasks or task_size, not both",
        invalid(spec(f, 2).toBuilder().setTaskSize(1).build()));
    assertEquals(
        "tasks: must be between 1 and 1000000, or 0 for one task per 16777216 bytes (got -1)",
        invalid(spec(f, -1)));
    assertEquals(
        "task_size: bytes per task: must be >= 1, or 0 for the default (got -5)",
        invalid(spec(f, 0).toBuilder().setTaskSize(-5).build()));
    assertEquals(
        "params: a wordcount job needs plugin parameters",
        invalid(JobSpec.newBuilder().setTasks(1).build()));
  }

  @Test
  void aFileThatChangedSinceTheJobWasPlannedFailsItsTasks() throws Exception {
    Path f = file("one two three");
    try (TaskPlan plan = kind.plan(spec(f, 2))) {
      Files.writeString(f, "one two three four");
      String message =
          assertThrows(TaskFailedException.class, () -> kind.run(plan.input(1), RUNNING))
              .getMessage();
      assertEquals(
          "wordcount: "
              + f
              + " is 18 bytes on this worker, but was 13 bytes when the job was submitted: the"
              + " file changed, or this host has another file at that path",
          message);
      Files.delete(f);
      assertEquals(
          "wordcount: no such file on this worker: " + f,
          assertThrows(TaskFailedException.class, () -> kind.run(plan.input(0), RUNNING))
              .getMessage());
    }
  }

  @Test
  void theTallyCountsARepeatedTaskOnceAndRefusesNonsense() throws Exception {
    Path f = file("a b c d");
    JobSpec spec = spec(f, 2);
    try (TaskPlan plan = kind.plan(spec)) {
      JobReduction tally = kind.reduction(spec, plan);
      ByteString first = kind.run(plan.input(0), RUNNING);
      tally.add(0, first);
      tally.add(0, first);
      assertThrows(IllegalStateException.class, tally::result);
      assertEquals(
          "wordcount task 1: output is 3 bytes, not a count's 8",
          assertThrows(
                  InvalidTaskOutputException.class,
                  () -> tally.add(1, ByteString.copyFromUtf8("abc")))
              .getMessage());
      ByteString tooMany = ByteString.copyFrom(new byte[] {0, 0, 0, 0, 0, 0, 0, 9});
      assertEquals(
          "wordcount task 1: 9 words in 3 bytes cannot be",
          assertThrows(InvalidTaskOutputException.class, () -> tally.add(1, tooMany)).getMessage());
      tally.add(1, kind.run(plan.input(1), RUNNING));
      assertEquals("4", tally.result().getPlugin().getText());
    }
  }

  @Test
  void aTruncatedTaskInputFailsTheTask() {
    assertEquals(
        "wordcount: task input is 3 bytes, too short for a chunk",
        assertThrows(
                TaskFailedException.class, () -> kind.run(ByteString.copyFromUtf8("abc"), RUNNING))
            .getMessage());
  }
}
