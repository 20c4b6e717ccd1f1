package dev.weft.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built tarball as a user gets it: unpacked into a fresh directory outside the source tree and
 * run through its bin/weft, from an empty working directory, with a PATH that holds only the few
 * tools the launcher uses (no Maven, no java) and a HOME of its own.
 */
final class DistributionIT {
  private static final Duration RUN_DEADLINE = Duration.ofSeconds(120);
  private static final Duration START_DEADLINE = Duration.ofSeconds(60);
  // What bin/weft and libexec/find-jdk.sh run; bash also for the shebang's /usr/bin/env.
  private static final List<String> LAUNCHER_TOOLS = List.of("bash", "sed", "dirname", "readlink");
  private static final Pattern LISTENING =
      Pattern.compile("weft coordinator (\\S+) listening on (\\S+)");

  @TempDir Path temp;

  private Path home; // the unpacked weft-VERSION
  private Path work; // an empty working directory
  private Path pathDir;
  private final List<Run> started = new ArrayList<>();

  @BeforeEach
  void unpack() throws Exception {
    Path tarball = Path.of(property("weft.dist.tarball"));
    assertTrue(Files.isRegularFile(tarball), "no tarball at " + tarball + "; run mvn package");
    Path unpacked = Files.createDirectories(temp.resolve("opt"));
    Result tar =
        await(
            start(
                List.of("tar", "-xzf", tarball.toString(), "-C", unpacked.toString()),
                temp,
                Map.of("PATH", System.getenv("PATH"))));
    assertEquals(0, tar.exit(), tar::toString);
    home = unpacked.resolve(property("weft.dist.name"));
    work = Files.createDirectories(temp.resolve("work"));
    pathDir = Files.createDirectories(temp.resolve("path"));
    for (String tool : LAUNCHER_TOOLS) {
      Files.createSymbolicLink(pathDir.resolve(tool), which(tool));
    }
  }

  @AfterEach
  void stopEverything() throws InterruptedException {
    for (Run run : started) {
      run.process().descendants().forEach(ProcessHandle::destroyForcibly);
      run.process().destroyForcibly();
      run.process().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void theTarballHasTheLauncherJarsConfigLicenseAndReadme() throws IOException {
    assertTrue(Files.isExecutable(home.resolve("bin/weft")));
    try (Stream<Path> jars = Files.list(home.resolve("lib"))) {
      List<String> names = jars.map(p -> p.getFileName().toString()).toList();
      assertTrue(
          names.stream().anyMatch(n -> n.matches("dev\\.weft\\.weft-cli-.*\\.jar")),
          names::toString);
      assertTrue(names.stream().anyMatch(n -> n.startsWith("info.picocli.")), names::toString);
    }
    assertTrue(Files.readString(home.resolve("LICENSE")).contains("Apache License"));
    assertTrue(Files.readString(home.resolve("LICENSE")).contains("Version 2.0, January 2004"));
    assertTrue(Files.readString(home.resolve("README.md")).startsWith("# weft"));
    assertTrue(Files.isRegularFile(home.resolve("conf/weft.properties")));
    assertTrue(Files.isRegularFile(home.resolve("examples/plugins/wordcount.jar")));
  }

  @Test
  void theExamplePluginRunsFromTheTarball() throws Exception {
    // Not in lib/, where it would be a built-in kind and clash with the plugin directory's.
    try (Stream<Path> jars = Files.list(home.resolve("lib"))) {
      List<String> names = jars.map(p -> p.getFileName().toString()).toList();
      assertFalse(names.stream().anyMatch(n -> n.contains("example")), names::toString);
    }
    String address = "127.0.0.1:" + freePort();
    Path plugins = home.resolve("examples/plugins");
    Run coordinator =
        start(
            command(
                "coordinator",
                "--listen",
                address,
                "--http-listen",
                "127.0.0.1:0",
                "--plugins",
                plugins.toString(),
                "--local-workers",
                "1"),
            work,
            env(Map.of()));
    awaitLine(coordinator, Pattern.compile("^plugins: +wordcount \\(wordcount\\.jar\\)$"));
    awaitLine(coordinator, LISTENING);

    Path readme = home.resolve("README.md");
    Result count =
        weft(
            Map.of("WEFT_COORDINATOR", address),
            "submit",
            "plugin",
            "wordcount",
            "-p",
            "path=" + readme,
            "--tasks",
            "4",
            "--wait",
            "--json");

    assertEquals(0, count.exit(), count::toString);
    // The oracle: runs of non-whitespace (isspace's six bytes), as the plugin defines words.
    long words =
        Pattern.compile("[^ \\t\\n\\x0B\\f\\r]+")
            .matcher(Files.readString(readme, StandardCharsets.ISO_8859_1))
            .results()
            .count();
    assertTrue(count.out().contains("\"plugin\":{\"text\":\"" + words + "\","), count::toString);
    coordinator.process().destroy();
    Result stopped = await(coordinator);
    assertEquals(0, stopped.exit(), stopped::toString);
  }

  @Test
  void versionAndDemoRunWithoutSourceTreeOrMaven() throws Exception {
    Result version = weft(Map.of(), "--version");
    assertEquals(0, version.exit(), version::toString);
    assertEquals("weft " + property("weft.version"), version.out().lines().findFirst().orElse(""));

    Result demo = weft(Map.of(), "demo");

    assertEquals(0, demo.exit(), demo::toString);
    assertEquals(2, demo.out().lines().filter(l -> l.contains("  OK  ")).count(), demo::toString);
    assertTrue(demo.out().contains("  500000000500000000  OK  ("), demo::toString);
    assertTrue(demo.out().contains("  3001134  OK  ("), demo::toString);
    assertEquals(
        2,
        demo.out().lines().filter(l -> l.matches(".*transport (grpc|shm|pipe) .*")).count(),
        demo::toString);
    assertTrue(demo.out().contains("all results match in "), demo::toString);
    assertFalse(demo.out().contains("MISMATCH"), demo::toString);
    // Its workers are JVMs started from the tarball's own class path; none may outlive the demo.
    Matcher pids = Pattern.compile("pids \\[([0-9, ]+)]").matcher(demo.out());
    assertTrue(pids.find(), demo::toString);
    for (String pid : pids.group(1).split(",\\s*")) {
      assertFalse(
          ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false),
          "worker " + pid + " outlived the demo");
    }
    Matcher id = Pattern.compile("weft demo: coordinator (\\S+) ").matcher(demo.out());
    assertTrue(id.find(), demo::toString);
    try (Stream<Path> shm = Files.list(Path.of("/dev/shm"))) {
      List<Path> left =
          shm.filter(p -> p.getFileName().toString().startsWith("weft-" + id.group(1) + "-"))
              .toList();
      assertEquals(List.of(), left, "shared-memory segments left by the demo");
    }
    try (Stream<Path> files = Files.list(work)) {
      assertEquals(List.of(), files.toList(), "the demo wrote into its working directory");
    }
  }

  @Test
  void theDistributionConfigSetsCoordinatorAndClientOptions() throws Exception {
    String address = "127.0.0.1:" + freePort();
    // The coordinator starts its local worker with its own java and the tarball's jars. Clients
    // get a wrong address from the file: $WEFT_COORDINATOR must beat it, as documented.
    Files.writeString(
        home.resolve("conf/weft.properties"),
        String.join(
            "\n",
            "weft.coordinator.listen = " + address,
            "weft.coordinator.local-workers = 1",
            "weft.coordinator.local-slots = 1",
            "coordinator = 127.0.0.1:1",
            ""));

    Run coordinator = start(command("coordinator"), work, env(Map.of()));
    Matcher listening = LISTENING.matcher(awaitLine(coordinator, LISTENING));
    assertTrue(listening.find());
    assertEquals(address, listening.group(2));

    Pattern localWorker = Pattern.compile("\"id\":\"local-1\".*?\"pid\":\"?(\\d+)");
    // Each look is a client process of its own; the deadline bounds how many.
    Result workers = new Result(0, "", "");
    Matcher attached = localWorker.matcher(workers.out());
    long deadline = System.nanoTime() + START_DEADLINE.toNanos();
    while (!attached.find()) {
      assertTrue(System.nanoTime() - deadline < 0, "local-1 never attached; last: " + workers);
      workers = weft(Map.of("WEFT_COORDINATOR", address), "workers", "--json");
      assertEquals(0, workers.exit(), workers::toString);
      attached = localWorker.matcher(workers.out());
    }
    long localPid = Long.parseLong(attached.group(1));

    Result unreachable = weft(Map.of(), "workers");
    assertEquals(3, unreachable.exit(), unreachable::toString);
    assertTrue(unreachable.err().contains("127.0.0.1:1"), unreachable::toString);

    coordinator.process().destroy(); // SIGTERM: a graceful stop, local workers included
    Result stopped = await(coordinator);
    assertEquals(0, stopped.exit(), stopped::toString);
    assertTrue(
        stopped.out().contains("weft coordinator " + listening.group(1) + " stopped"),
        stopped::toString);
    assertFalse(
        ProcessHandle.of(localPid).map(ProcessHandle::isAlive).orElse(false),
        "local worker " + localPid + " outlived its coordinator");
  }

  @Test
  void everyKeyOfTheExampleConfigIsKnown() throws Exception {
    // Uncomment every setting (a "#key = value" line; prose comments have a space after the #).
    String example = Files.readString(home.resolve("conf/weft.properties"));
    String all =
        example
            .lines()
            .map(l -> l.matches("#[a-z][\\w.-]*\\s*=.*") ? l.substring(1) : l)
            .collect(Collectors.joining("\n"));
    assertTrue(all.contains("\nweft.coordinator.listen"), all);
    Path config = Files.writeString(temp.resolve("all.properties"), all);

    Result r = weft(Map.of(), "--config", config.toString(), "--version");

    assertEquals(0, r.exit(), r::toString);
  }

  @Test
  void aBadKeyOrAMissingNamedFileFailsWithExitTwo() throws Exception {
    Files.writeString(home.resolve("conf/weft.properties"), "weft.coordinator.lisen = x\n");

    Result bad = weft(Map.of(), "coordinator");

    assertEquals(2, bad.exit(), bad::toString);
    assertTrue(bad.err().contains(home.resolve("conf/weft.properties").toString()), bad::toString);
    assertTrue(bad.err().contains("unknown key 'weft.coordinator.lisen'"), bad::toString);

    Result missing = weft(Map.of("WEFT_CONFIG", temp.resolve("none").toString()), "jobs");

    assertEquals(2, missing.exit(), missing::toString);
    assertTrue(missing.err().contains("does not exist"), missing::toString);
  }

  /** Runs bin/weft in the empty working directory and waits for it, with a deadline. */
  private Result weft(Map<String, String> extraEnv, String... args) throws Exception {
    return await(start(command(args), work, env(extraEnv)));
  }

  private List<String> command(String... args) {
    List<String> command = new ArrayList<>(List.of(home.resolve("bin/weft").toString()));
    command.addAll(Arrays.asList(args));
    return command;
  }

  /** Only what a user's shell would have: PATH without Maven or java, HOME, JAVA_HOME. */
  private Map<String, String> env(Map<String, String> extra) throws IOException {
    Map<String, String> env = new HashMap<>(extra);
    env.put("PATH", pathDir.toString());
    env.put("HOME", Files.createDirectories(temp.resolve("home")).toString());
    env.put("JAVA_HOME", System.getProperty("java.home"));
    return env;
  }

  /** Starts a process whose output goes to files in the temp directory (no pipe to fill up). */
  private Run start(List<String> command, Path dir, Map<String, String> env) throws IOException {
    Path out = temp.resolve("run-" + started.size() + ".out");
    Path err = temp.resolve("run-" + started.size() + ".err");
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(dir.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(out.toFile())
            .redirectError(err.toFile());
    builder.environment().clear();
    builder.environment().putAll(env);
    Run run = new Run(builder.start(), out, err, String.join(" ", command));
    started.add(run);
    return run;
  }

  private static Result await(Run run) throws InterruptedException {
    if (!run.process().waitFor(RUN_DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
      throw new AssertionError(
          run.command() + " did not finish within " + RUN_DEADLINE + "\n" + run.soFar(-1));
    }
    return run.soFar(run.process().exitValue());
  }

  /** Waits, with a deadline, for the process to print a line matching {@code pattern}. */
  private static String awaitLine(Run run, Pattern pattern) throws InterruptedException {
    long deadline = System.nanoTime() + START_DEADLINE.toNanos();
    while (System.nanoTime() - deadline < 0) {
      for (String line : read(run.out()).lines().toList()) {
        if (pattern.matcher(line).find()) {
          return line;
        }
      }
      if (!run.process().isAlive()) {
        throw new AssertionError(
            run.command()
                + " exited before printing "
                + pattern
                + "\n"
                + run.soFar(run.process().exitValue()));
      }
      // A short pause between looks at its output; the deadline bounds the wait.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
    }
    throw new AssertionError(
        run.command()
            + " printed no line matching "
            + pattern
            + " within "
            + START_DEADLINE
            + "\n"
            + run.soFar(-1));
  }

  private static Path which(String tool) {
    for (String dir : List.of("/usr/bin", "/bin", "/usr/local/bin")) {
      Path candidate = Path.of(dir, tool);
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new AssertionError("this test needs " + tool + " in /usr/bin or /bin");
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  private static String property(String name) {
    String value = System.getProperty(name);
    assertTrue(
        value != null && !value.isBlank(),
        "system property " + name + " is not set (the pom sets it)");
    return value;
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A started process and the files that hold its output. */
  record Run(Process process, Path out, Path err, String command) {
    Result soFar(int exit) {
      return new Result(exit, read(out), read(err));
    }
  }

  record Result(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
    }
  }
}
