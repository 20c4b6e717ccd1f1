package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example plugin (examples/wordcount-plugin, built by the reactor) in real processes: a
 * coordinator, its local worker and a worker of its own load it from a plugin directory, and a CLI
 * process submits a job of its kind; coordinators given a directory they cannot use stop with exit
 * 2 and say which file is wrong.
 */
final class PluginEndToEndTest {
  private static final int TASKS = 8;
  private static final byte[] SPACES = {' ', '\t', '\n', 0x0B, '\f', '\r'};
  // The oracle for the plugin's count: words as a regular expression finds them.
  private static final Pattern WORD = Pattern.compile("[^ \\t\\n\\x0B\\f\\r]+");

  @TempDir Path temp;
  private ProcessCluster cluster;

  @BeforeEach
  void start() throws IOException {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  /** The example plugin's jar as the build made it (see cli/pom.xml). */
  private Path exampleJar() throws IOException {
    String property = System.getProperty("weft.example.plugin");
    assertNotNull(property, "weft.example.plugin is not set; run the tests through Maven");
    Path built = Path.of(property);
    if (Files.isRegularFile(built)) {
      return built;
    }
    // A reactor run that stops before `package` (mvn test) hands over the classes directory.
    assertTrue(Files.isDirectory(built), "no example plugin at " + built);
    Path jar = temp.resolve("weft-example-wordcount.jar");
    if (!Files.exists(jar)) {
      try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), new Manifest());
          Stream<Path> files = Files.walk(built)) {
        for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
          out.putNextEntry(new JarEntry(built.relativize(file).toString()));
          Files.copy(file, out);
          out.closeEntry();
        }
      }
    }
    return jar;
  }

  /** A directory only its owner may write, as --plugins wants it, holding {@code jars}. */
  private Path pluginDir(String name, String... jars) throws IOException {
    Path dir =
        Files.createDirectory(
            temp.resolve(name),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    for (String jar : jars) {
      Files.copy(exampleJar(), dir.resolve(jar));
    }
    return dir;
  }

  /**
   * A few MB of words of 1 to 40 bytes between runs of 1 to 5 whitespace bytes of every kind, with
   * words across every place a near-even split into {@link #TASKS} could cut.
   */
  private static byte[] words(int size) {
    Random random = new Random(15);
    byte[] content = new byte[size];
    for (int i = 0; i < size; ) {
      for (int n = 1 + random.nextInt(40); n > 0 && i < size; n--) {
        content[i++] = (byte) ('!' + random.nextInt('~' - '!' + 1));
      }
      for (int n = 1 + random.nextInt(5); n > 0 && i < size; n--) {
        content[i++] = SPACES[random.nextInt(SPACES.length)];
      }
    }
    for (int k = 1; k < TASKS; k++) {
      long cut = (long) size * k / TASKS;
      for (long i = cut - 4; i < cut + 4; i++) {
        content[(int) i] = 'w';
      }
    }
    return content;
  }

  private static long oracle(byte[] content) {
    Matcher m = WORD.matcher(new String(content, StandardCharsets.ISO_8859_1));
    long count = 0;
    while (m.find()) {
      count++;
    }
    return count;
  }

  @Test
  void aCoordinatorAndItsWorkersLoadThePluginAndCountAFilesWords() throws Exception {
    Path plugins = pluginDir("plugins", "wordcount.jar");
    byte[] content = words(3 * 1024 * 1024 + 11);
    Path file = Files.write(temp.resolve("words.txt"), content);
    long expected = oracle(content);

    // The coordinator's own worker gets --plugins from it; w1 is given it, as on another host.
    cluster.startCoordinator(0, "--plugins", plugins.toString(), "--local-workers", "1");
    cluster.startWorker("w1", 2, "--plugins", plugins.toString());
    cluster.awaitWorkers(2);
    assertTrue(
        cluster.log("coordinator").contains("plugins:        wordcount (wordcount.jar)"),
        cluster::logTails);
    assertTrue(
        cluster.log("w1").contains("plugins:        wordcount (wordcount.jar)"), cluster::logTails);

    CliResult run =
        cluster.clientProcess(
            "submit",
            "plugin",
            "wordcount",
            "-p",
            "path=" + file,
            "--tasks",
            Integer.toString(TASKS),
            "--wait",
            "--json");

    assertExit(0, run);
    Job job = run.job();
    assertEquals(JobState.SUCCEEDED, job.getState(), run::toString);
    assertEquals(TASKS, job.getTasksTotal(), run::toString);
    assertEquals(Long.toString(expected), job.getResult().getPlugin().getText(), run::toString);
    assertEquals(
        expected + " words in " + file + " (" + content.length + " bytes, 8 tasks)",
        job.getResult().getSummary());

    CliResult missing =
        cluster.clientProcess(
            "submit", "plugin", "wordcount", "-p", "path=" + temp.resolve("nope.txt"), "--wait");
    assertExit(2, missing);
    assertTrue(
        missing.err().contains("plugin.args.path: no such file: " + temp.resolve("nope.txt")),
        missing::toString);
  }

  /** Starts a coordinator that must refuse {@code plugins}, and returns what it printed. */
  private String refused(String name, Path plugins) throws Exception {
    Process coordinator =
        cluster.startProcess(
            name,
            Map.of(),
            "coordinator",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--data-dir",
            temp.resolve(name + "-data").toString(),
            "--plugins",
            plugins.toString());
    assertTrue(
        coordinator.waitFor(ProcessCluster.START_DEADLINE.toMillis(), TimeUnit.MILLISECONDS),
        () -> name + " did not stop\n" + cluster.logTails());
    String log = cluster.log(name);
    assertEquals(2, coordinator.exitValue(), log);
    assertFalse(log.contains("\tat "), "a stack trace:\n" + log);
    return log;
  }

  @Test
  void twoJarsOfOneKindOrAJarThatIsNoPluginStopTheCoordinator() throws Exception {
    Path twice = pluginDir("twice", "a.jar", "b.jar");
    assertTrue(
        refused("coordinator-twice", twice)
            .contains(
                "--plugins: two plugins declare job kind 'wordcount': "
                    + twice.resolve("a.jar")
                    + " and "
                    + twice.resolve("b.jar")),
        cluster::logTails);

    Path empty = pluginDir("empty");
    Path jar = empty.resolve("empty.jar");
    try (OutputStream out = Files.newOutputStream(jar)) {
      // A manifest and nothing else, as `jar --create --file empty.jar` makes.
      new JarOutputStream(out, new Manifest()).finish();
    }
    assertTrue(
        refused("coordinator-empty", empty)
            .contains(
                "--plugins: "
                    + jar
                    + " is not a plugin: it declares no job kind in"
                    + " META-INF/services/dev.weft.kinds.JobKind"),
        cluster::logTails);
  }
}
