package dev.weft.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * deploy/netns/cluster.sh end to end: a coordinator host (with a worker beside it on shared memory)
 * and two worker hosts, each a network namespace with its own address, weft started in each from
 * the distribution with the join token; a client in yet another namespace. Needs root; skipped,
 * saying why, without it.
 */
final class NetnsClusterIT {
  private static final Duration UP_DEADLINE = Duration.ofSeconds(240);
  private static final Duration CLIENT_DEADLINE = Duration.ofSeconds(120);
  private static final Pattern JOB_ID = Pattern.compile("\"id\"\\s*:\\s*\"(j[0-9a-z]+)\"");
  private static final Pattern WORKER_CGROUP = Pattern.compile("weft-worker-\\d+-(\\d+)-\\d+");

  private final String prefix = "wt" + ThreadLocalRandom.current().nextInt(1000, 9999);
  private final String subnet = "10.79." + ThreadLocalRandom.current().nextInt(1, 250);
  private final String marker =
      String.format("300.%06d", ThreadLocalRandom.current().nextInt(1_000_000));
  private Path script;
  private boolean up;

  @BeforeEach
  void clusterUp() throws Exception {
    assumeTrue(
        "0".equals(run(List.of("id", "-u"), Duration.ofSeconds(10)).out().strip()),
        "skipped: deploy/netns/cluster.sh makes network namespaces, which needs root");
    assumeTrue(
        Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
        "skipped: iproute2's ip is not installed");
    script = Path.of(System.getProperty("weft.root"), "deploy", "netns", "cluster.sh");
    up = true;
    Result result = cluster(UP_DEADLINE, "up");
    assertEquals(0, result.exit(), result::toString);
  }

  @AfterEach
  void clusterDown() throws Exception {
    if (!up) {
      return;
    }
    Result down = cluster(UP_DEADLINE, "down");
    assertEquals(0, down.exit(), down::toString);
    String namespaces = run(List.of("ip", "netns", "list"), Duration.ofSeconds(10)).out();
    assertTrue(!namespaces.contains(prefix + "-"), "namespaces left: " + namespaces);
    String links = run(List.of("ip", "-brief", "link"), Duration.ofSeconds(10)).out();
    assertTrue(!links.contains(prefix), "links left: " + links);
    assertTrue(!Files.exists(Path.of("/run/weft-netns-" + prefix)), "state directory left");
    List<String> left = processesMentioning("/run/weft-netns-" + prefix);
    assertTrue(left.isEmpty(), "processes left: " + left);
    assertTrue(processesMentioning(marker).isEmpty(), "task processes left");
    List<Path> cgroups = taskCgroupsOfDeadWorkers();
    assertTrue(cgroups.isEmpty(), "task cgroups of dead workers left: " + cgroups);
    List<Path> records = taskRecordsOfDeadWorkers();
    assertTrue(records.isEmpty(), "task records of dead workers left: " + records);
  }

  @Test
  void jobsRunAcrossHostsCancelLeavesNothingAndAKilledHostLosesNothing() throws Exception {
    // Results are exact across the three hosts.
    Result sum =
        client(
            "submit",
            "sum",
            "--from",
            "1",
            "--to",
            "1_000_000_000",
            "--tasks",
            "30",
            "--wait",
            "--json");
    assertEquals(0, sum.exit(), sum::toString);
    assertTrue(sum.out().contains("500000000500000000"), sum::toString);

    // The worker beside the coordinator is on shared memory, the others on gRPC.
    Result workers = client("workers", "--json");
    assertEquals(0, workers.exit(), workers::toString);
    assertTransport(workers.out(), "coord-worker", "shm");
    assertTransport(workers.out(), "w1", "grpc");
    assertTransport(workers.out(), "w2", "grpc");

    // Cancel: no task process survives on any host.
    Result submitted = client("submit", "exec", "--tasks", "6", "--json", "--", "sleep", marker);
    assertEquals(0, submitted.exit(), submitted::toString);
    String id = jobId(submitted);
    await(
        "six task processes to run",
        Duration.ofSeconds(60),
        () -> processesMentioning(marker).size() >= 6);
    Result cancelled = client("cancel", id, "--grace", "2s");
    assertEquals(0, cancelled.exit(), cancelled::toString);
    await(
        "every task process of the job to be gone",
        Duration.ofSeconds(4),
        () -> processesMentioning(marker).isEmpty());

    // A worker host dies with an exec task running: what the task's leader started stays in the
    // task's cgroup, out of the dead worker's hands, until `down` sweeps it.
    Result stranded =
        client(
            "submit",
            "exec",
            "--on",
            "w2",
            "--json",
            "--",
            "sh",
            "-c",
            "sleep " + marker + " & sleep " + marker);
    assertEquals(0, stranded.exit(), stranded::toString);
    await(
        "w2's task processes to run",
        Duration.ofSeconds(60),
        () -> processesMentioning(marker).size() >= 2);
    Result killedW2 = cluster(Duration.ofSeconds(30), "kill", "w2", "KILL");
    assertEquals(0, killedW2.exit(), killedW2::toString);

    // A worker host dies: the job still completes, exactly.
    Result primes =
        client(
            "submit", "primes", "--from", "1", "--to", "1_000_000_000", "--tasks", "200", "--json");
    assertEquals(0, primes.exit(), primes::toString);
    String primesId = jobId(primes);
    Result killed = cluster(Duration.ofSeconds(30), "kill", "w1", "KILL");
    assertEquals(0, killed.exit(), killed::toString);
    await(
        "the primes job to finish",
        CLIENT_DEADLINE,
        () -> statusOf(primesId).contains("SUCCEEDED"));
    Result done = client("status", primesId, "--json");
    assertTrue(done.out().contains("SUCCEEDED"), done::toString);
    assertTrue(done.out().contains("50847534"), done::toString); // pi(10^9)
  }

  private String statusOf(String id) {
    try {
      return client("status", id, "--json").out();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static void assertTransport(String json, String worker, String transport) {
    // A worker's "transport" comes before its nested objects (resources): no JSON parser needed.
    Matcher m =
        Pattern.compile(
                "\\{\\s*\"id\"\\s*:\\s*\"" + worker + "\"[^{}]*?\"transport\"\\s*:\\s*\"(\\w+)\"")
            .matcher(json);
    assertTrue(m.find(), () -> "no worker " + worker + " in " + json);
    assertEquals(transport, m.group(1), () -> worker + " is not on " + transport + ": " + json);
  }

  private static String jobId(Result submitted) {
    Matcher m = JOB_ID.matcher(submitted.out());
    assertTrue(m.find(), submitted::toString);
    return m.group(1);
  }

  private Result client(String... args) throws IOException, InterruptedException {
    List<String> all = new ArrayList<>(List.of("client"));
    all.addAll(List.of(args));
    return cluster(CLIENT_DEADLINE, all.toArray(String[]::new));
  }

  private Result cluster(Duration deadline, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("bash", script.toString()));
    command.addAll(List.of(args));
    Map<String, String> env = new HashMap<>();
    env.put("WEFT_NETNS_PREFIX", prefix);
    env.put("WEFT_NETNS_SUBNET", subnet);
    env.put("WEFT_DIST", System.getProperty("weft.dist.tarball"));
    return run(command, deadline, env);
  }

  /**
   * Live processes (in any namespace) whose command line mentions {@code text}, but not JVMs of
   * this test.
   */
  private static List<String> processesMentioning(String text) {
    List<String> found = new ArrayList<>();
    long self = ProcessHandle.current().pid();
    try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
      for (Path entry : (Iterable<Path>) entries::iterator) {
        String name = entry.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit) || Long.parseLong(name) == self) {
          continue;
        }
        String cmdline;
        try {
          cmdline =
              new String(Files.readAllBytes(entry.resolve("cmdline")), StandardCharsets.UTF_8)
                  .replace('\0', ' ');
        } catch (IOException e) {
          continue; // exited while we looked
        }
        if (cmdline.contains(text) && !cmdline.contains("cluster.sh")) {
          found.add(name + " " + cmdline.strip());
        }
      }
    } catch (IOException e) {
      throw new AssertionError("cannot list /proc", e);
    }
    return found;
  }

  /**
   * Task cgroup directories (weft-worker-PIDNS-PID-START in this process's cgroup, where the
   * cluster's workers were started) whose worker is gone.
   */
  private static List<Path> taskCgroupsOfDeadWorkers() throws IOException {
    Path mount = null;
    for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
      String[] fields = line.split(" ");
      if (fields.length > 2 && fields[2].equals("cgroup2")) {
        mount = Path.of(fields[1]);
        break;
      }
    }
    String own =
        Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
            .filter(line -> line.startsWith("0::/"))
            .map(line -> line.substring(4))
            .findFirst()
            .orElse(null);
    List<Path> dead = new ArrayList<>();
    if (mount == null || own == null || !Files.isDirectory(mount.resolve(own))) {
      return dead;
    }
    try (Stream<Path> dirs = Files.list(mount.resolve(own))) {
      for (Path dir : (Iterable<Path>) dirs::iterator) {
        Matcher m = WORKER_CGROUP.matcher(dir.getFileName().toString());
        if (m.matches() && !Files.exists(Path.of("/proc", m.group(1)))) {
          dead.add(dir);
        }
      }
    }
    return dead;
  }

  /** Records of running exec tasks (/tmp/weft-tasks-0/PID-START, as root) whose worker is gone. */
  private static List<Path> taskRecordsOfDeadWorkers() throws IOException {
    List<Path> dead = new ArrayList<>();
    Path base = Path.of("/tmp/weft-tasks-0");
    if (!Files.isDirectory(base)) {
      return dead;
    }
    try (Stream<Path> dirs = Files.list(base)) {
      for (Path dir : (Iterable<Path>) dirs::iterator) {
        String name = dir.getFileName().toString();
        int dash = name.indexOf('-');
        if (dash > 0 && !Files.exists(Path.of("/proc", name.substring(0, dash)))) {
          dead.add(dir);
        }
      }
    }
    return dead;
  }

  private static void await(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(
            "timed out after " + timeout.toMillis() + " ms waiting for " + what);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    }
  }

  record Result(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\n--- out:\n" + out + "\n--- err:\n" + err;
    }
  }

  private static Result run(List<String> command, Duration deadline)
      throws IOException, InterruptedException {
    return run(command, deadline, Map.of());
  }

  private static Result run(List<String> command, Duration deadline, Map<String, String> env)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("weft-netns-", ".out");
    Path err = Files.createTempFile("weft-netns-", ".err");
    try {
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      builder.environment().putAll(env);
      Process process = builder.start();
      if (!process.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(
            String.join(" ", command)
                + " did not finish within "
                + deadline
                + "\n"
                + Files.readString(out)
                + Files.readString(err));
      }
      return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
