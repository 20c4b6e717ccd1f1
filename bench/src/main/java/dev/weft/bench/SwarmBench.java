package dev.weft.bench;

import dev.weft.coordinator.TempDataDir;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Thousands of workers on one coordinator: a coordinator process as users run it (journal on, TLS
 * and the join token), a load generator process ({@code weft swarm}: many workers, each with an
 * Attach stream and a TCP connection of its own) in a network namespace of its own behind a veth
 * pair, and a client process that runs big no-op jobs back to back. Measures the time all workers
 * take to attach, tasks per second over a window after warm-up (from the coordinator's own count of
 * tasks done), the coordinator's memory before and after the workers attach (RSS from /proc, heap
 * used after a full GC asked of it with jcmd), and the CPU each process used in the window.
 *
 * <p>Needs root (for the namespace); the veth pair has the addresses of {@link #SUBNET} and nothing
 * else, so the generator reaches the coordinator and no other address. Everything it makes goes
 * away at the end, on failure and on Ctrl-C too: processes, namespace, veth, data dir and any
 * shared-memory segment of its coordinator.
 */
public final class SwarmBench {
  static final String SUBNET = "10.78.0.0/30";
  static final String HOST_ADDRESS = "10.78.0.1";
  static final String SWARM_ADDRESS = "10.78.0.2";
  private static final Duration START_DEADLINE = Duration.ofSeconds(90);
  private static final Duration STOP_DEADLINE = Duration.ofSeconds(20);
  private static final Duration COMMAND_DEADLINE = Duration.ofSeconds(30);
  private static final Pattern LISTENING =
      Pattern.compile("^weft coordinator (\\S+) listening on \\S+:(\\d+)$");
  private static final Pattern TOKEN = Pattern.compile("--token (\\S+)");
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");
  private static final Pattern VM_RSS = Pattern.compile("(?m)^VmRSS:\\s+(\\d+) kB$");
  private static final Pattern ATTACHED =
      Pattern.compile("^attached workers=(\\d+) ms=([0-9.]+) sessions=(\\d+)$");
  // USER_HZ: what /proc/PID/stat counts CPU time in, on every Linux that weft runs on.
  private static final double CLOCK_TICKS_PER_S = 100;

  /** What to run; see {@code weft bench --help}. */
  public record Options(
      int workers,
      int slots,
      int prefetch,
      int eventLoops,
      int tasksPerJob,
      Duration warmup,
      Duration duration,
      Duration attachDeadline,
      List<String> coordinatorCommand,
      List<String> swarmCommand,
      List<String> clientCommand) {
    public Options {
      coordinatorCommand = List.copyOf(coordinatorCommand);
      swarmCommand = List.copyOf(swarmCommand);
      clientCommand = List.copyOf(clientCommand);
      if (workers < 1 || slots < 1 || prefetch < 0 || eventLoops < 1) {
        throw new IllegalArgumentException(
            "workers, slots and event loops must be at least 1 and prefetch at least 0");
      }
      if (tasksPerJob < 1 || tasksPerJob > 1_000_000) {
        throw new IllegalArgumentException(
            "tasks per job must be 1 to 1000000, got " + tasksPerJob);
      }
      if (duration.isNegative() || duration.isZero() || warmup.isNegative()) {
        throw new IllegalArgumentException(
            "the duration must be positive, the warm-up not negative");
      }
    }
  }

  /**
   * The figures. Memory is in bytes; CPU is in seconds of CPU per second of the window (2.0: two
   * cores busy).
   */
  public record Result(
      int workers,
      long workersReady,
      int slots,
      int prefetch,
      int tasksPerJob,
      double attachMs,
      int attachSessions,
      double tasksPerS,
      long tasksInWindow,
      double windowS,
      long jobsChecked,
      long tasksChecked,
      long rssBefore,
      long rssAfter,
      long heapBefore,
      long heapAfter,
      double coordinatorCpu,
      double swarmCpu,
      double clientCpu) {
    public double rssPerWorker() {
      return (rssAfter - rssBefore) / (double) workers;
    }

    public double heapPerWorker() {
      return (heapAfter - heapBefore) / (double) workers;
    }

    /** What a task cost the coordinator in CPU, whatever else the machine was running. */
    public double coordinatorCpuUsPerTask() {
      return tasksPerS > 0 ? coordinatorCpu * 1e6 / tasksPerS : Double.NaN;
    }
  }

  private final Options options;
  private final Consumer<String> progress;
  private final String suffix = String.valueOf(ProcessHandle.current().pid());
  private final String namespace = "weft-swarm-" + suffix;
  private final String hostVeth = "wsw" + suffix + "a";
  private final String swarmVeth = "wsw" + suffix + "b";
  private final List<Child> children = new ArrayList<>();
  private final Object cleanupLock = new Object();
  private TempDataDir dataDir; // guarded by cleanupLock
  private String coordinatorId; // guarded by cleanupLock
  private boolean networkMade; // guarded by cleanupLock
  private boolean cleaned; // guarded by cleanupLock

  public SwarmBench(Options options, Consumer<String> progress) {
    this.options = options;
    this.progress = progress;
    if (hostVeth.length() > 15) {
      throw new IllegalStateException("interface name too long: " + hostVeth);
    }
  }

  /**
   * Runs the measurement; everything it started or made is gone on return, and also if the JVM is
   * stopped meanwhile (Ctrl-C).
   *
   * @throws IllegalStateException naming what is missing (root, {@code ip}) or what failed
   */
  public Result run() throws IOException, InterruptedException {
    checkPrerequisites();
    Thread hook = new Thread(this::cleanupQuietly, "weft-bench-swarm-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return measure();
    } finally {
      cleanup();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // The JVM is exiting: the hook runs the (now idempotent, finished) cleanup itself.
      }
    }
  }

  /** Root and {@code ip}, and no address of {@link #SUBNET} in use here already. */
  static void checkPrerequisites() throws IOException, InterruptedException {
    String uid = run(List.of("id", "-u"), true).strip();
    if (!uid.equals("0")) {
      throw new IllegalStateException(
          "the swarm path needs root (it makes a network namespace and a veth pair for the load"
              + " generator); run it as root, e.g. sudo ./weft bench --path swarm");
    }
    try {
      run(List.of("ip", "-V"), true);
    } catch (IOException e) {
      throw new IllegalStateException(
          "the swarm path needs the ip command (iproute2) to make its network namespace: "
              + e.getMessage(),
          e);
    }
    String addresses = run(List.of("ip", "-o", "-4", "addr", "show"), true);
    String routes = run(List.of("ip", "-4", "route", "show", "table", "all"), true);
    for (String line : (addresses + "\n" + routes).split("\n")) {
      if (line.matches(".*\\b10\\.78\\.0\\.[0-3](/\\d+)?\\b.*")) {
        throw new IllegalStateException(
            SUBNET
                + " is in use on this host already ("
                + line.strip()
                + "); the swarm path needs it for its namespace (is another swarm bench running?)");
      }
    }
  }

  private Result measure() throws IOException, InterruptedException {
    synchronized (cleanupLock) {
      dataDir = TempDataDir.create("weft-bench-swarm-");
    }
    progress.accept(
        "swarm: network namespace " + namespace + ", " + HOST_ADDRESS + " <-> " + SWARM_ADDRESS);
    makeNetwork();
    progress.accept("swarm: starting the coordinator (journal on, TLS, join token)");
    List<String> coordinatorCommand = new ArrayList<>(options.coordinatorCommand());
    coordinatorCommand.addAll(
        List.of(
            "coordinator",
            "--listen",
            HOST_ADDRESS + ":0",
            "--data-dir",
            dataDir.path().resolve("data").toString(),
            "--http-listen",
            "off",
            "--socket",
            "none"));
    Child coordinator =
        start(
            "coordinator",
            coordinatorCommand,
            Map.of(),
            dataDir.path().resolve("coordinator.log"),
            false);
    Matcher listening = coordinator.awaitLine(LISTENING, START_DEADLINE);
    synchronized (cleanupLock) {
      coordinatorId = listening.group(1);
    }
    int port = Integer.parseInt(listening.group(2));
    String joinToken = coordinator.awaitLine(TOKEN, COMMAND_DEADLINE).group(1);
    String adminToken =
        Files.readString(dataDir.path().resolve("data").resolve("security").resolve("admin-token"))
            .strip();
    String join = HOST_ADDRESS + ":" + port;

    List<String> clientCommand = new ArrayList<>(options.clientCommand());
    clientCommand.addAll(List.of("--coordinator", join));
    ClientProcess client = new ClientProcess("swarm", clientCommand, adminToken);
    try {
      client.ask("workers 0 grpc " + START_DEADLINE.toNanos(), START_DEADLINE.plusSeconds(30));
      Memory before = memory(coordinator.pid());
      progress.accept(
          String.format(
              Locale.ROOT,
              "swarm: coordinator before attach: RSS %.1f MiB, heap used %.1f MiB",
              before.rss / 1048576.0,
              before.heap / 1048576.0));

      progress.accept(
          "swarm: starting "
              + options.workers()
              + " workers x "
              + options.slots()
              + " slots in "
              + namespace);
      List<String> swarmCommand = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
      swarmCommand.addAll(options.swarmCommand());
      swarmCommand.addAll(
          List.of(
              "--join",
              join,
              "--workers",
              String.valueOf(options.workers()),
              "--slots",
              String.valueOf(options.slots()),
              "--prefetch",
              String.valueOf(options.prefetch()),
              "--event-loops",
              String.valueOf(options.eventLoops()),
              "--attach-deadline",
              options.attachDeadline().toSeconds() + "s"));
      Child swarm =
          start(
              "swarm",
              swarmCommand,
              Map.of("WEFT_TOKEN", joinToken),
              dataDir.path().resolve("swarm.log"),
              true);
      Matcher attached = swarm.awaitLine(ATTACHED, options.attachDeadline().plus(START_DEADLINE));
      double attachMs = Double.parseDouble(attached.group(2));
      int sessions = Integer.parseInt(attached.group(3));
      // The coordinator's view: every worker ready.
      client.ask(
          "workers " + options.workers() + " grpc " + COMMAND_DEADLINE.toNanos(),
          COMMAND_DEADLINE.plusSeconds(30));
      Memory after = memory(coordinator.pid());
      progress.accept(
          String.format(
              Locale.ROOT,
              "swarm: %d workers attached in %.0f ms; coordinator RSS %.1f MiB, heap used %.1f"
                  + " MiB",
              options.workers(),
              attachMs,
              after.rss / 1048576.0,
              after.heap / 1048576.0));

      progress.accept(
          "swarm: jobs of "
              + options.tasksPerJob()
              + " no-op tasks, warming up for "
              + options.warmup().toSeconds()
              + " s");
      client.ask("load " + options.tasksPerJob(), COMMAND_DEADLINE);
      waitFor(options.warmup());
      Map<String, String> first = client.ask("sample", COMMAND_DEADLINE);
      long[] cpu0 = {cpuTicks(coordinator.pid()), cpuTicks(swarm.pid()), cpuTicks(client.pid())};
      progress.accept("swarm: measuring for " + options.duration().toSeconds() + " s");
      waitFor(options.duration());
      Map<String, String> second = client.ask("sample", COMMAND_DEADLINE);
      long[] cpu1 = {cpuTicks(coordinator.pid()), cpuTicks(swarm.pid()), cpuTicks(client.pid())};
      progress.accept("swarm: letting the jobs in flight finish and checking them");
      Map<String, String> checked =
          client.ask(
              "stop " + ClientProbe.BIG_JOB_DEADLINE.toNanos(),
              ClientProbe.BIG_JOB_DEADLINE.plusSeconds(30));

      long tasks =
          Long.parseLong(second.get("tasks_done")) - Long.parseLong(first.get("tasks_done"));
      double windowS =
          (Long.parseLong(second.get("at_ns")) - Long.parseLong(first.get("at_ns"))) / 1e9;
      if (Long.parseLong(second.get("ready")) != options.workers()) {
        throw new IllegalStateException(
            second.get("ready")
                + " of "
                + options.workers()
                + " workers were ready at the end of the window");
      }
      return new Result(
          options.workers(),
          Long.parseLong(second.get("ready")),
          options.slots(),
          options.prefetch(),
          options.tasksPerJob(),
          attachMs,
          sessions,
          tasks / windowS,
          tasks,
          windowS,
          Long.parseLong(checked.get("jobs_checked")),
          Long.parseLong(checked.get("tasks_checked")),
          before.rss,
          after.rss,
          before.heap,
          after.heap,
          (cpu1[0] - cpu0[0]) / CLOCK_TICKS_PER_S / windowS,
          (cpu1[1] - cpu0[1]) / CLOCK_TICKS_PER_S / windowS,
          (cpu1[2] - cpu0[2]) / CLOCK_TICKS_PER_S / windowS);
    } catch (IOException | RuntimeException e) {
      for (Child child : List.copyOf(children)) {
        progress.accept("swarm: the last lines of the " + child.name + "'s log:");
        child.logTail(20).forEach(line -> progress.accept("  " + line));
      }
      throw e;
    } finally {
      client.close();
    }
  }

  private void makeNetwork() throws IOException, InterruptedException {
    synchronized (cleanupLock) {
      networkMade = true; // from the first command on: cleanup removes whatever came of it
    }
    run(List.of("ip", "netns", "add", namespace), false);
    run(List.of("ip", "link", "add", hostVeth, "type", "veth", "peer", "name", swarmVeth), false);
    run(List.of("ip", "link", "set", swarmVeth, "netns", namespace), false);
    run(List.of("ip", "addr", "add", HOST_ADDRESS + "/30", "dev", hostVeth), false);
    run(List.of("ip", "link", "set", hostVeth, "up"), false);
    run(
        List.of("ip", "-n", namespace, "addr", "add", SWARM_ADDRESS + "/30", "dev", swarmVeth),
        false);
    run(List.of("ip", "-n", namespace, "link", "set", swarmVeth, "up"), false);
    run(List.of("ip", "-n", namespace, "link", "set", "lo", "up"), false);
  }

  /** Waits out a measured span (the span is the measurement, not a poll). */
  private static void waitFor(Duration span) throws InterruptedException {
    new CountDownLatch(1).await(span.toNanos(), TimeUnit.NANOSECONDS);
  }

  private record Memory(long rss, long heap) {}

  /**
   * The coordinator's RSS and its heap used right after a full GC (jcmd GC.run asks for one, as
   * System.gc() would: what is left is what the workers' state holds, not garbage not yet
   * collected).
   */
  private static Memory memory(long pid) throws IOException, InterruptedException {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    run(List.of(jcmd, String.valueOf(pid), "GC.run"), false);
    String heapInfo = run(List.of(jcmd, String.valueOf(pid), "GC.heap_info"), false);
    Matcher heap = HEAP_USED.matcher(heapInfo);
    if (!heap.find()) {
      throw new IOException("no heap use in jcmd GC.heap_info's answer: " + heapInfo.strip());
    }
    String status = Files.readString(Path.of("/proc", String.valueOf(pid), "status"));
    Matcher rss = VM_RSS.matcher(status);
    if (!rss.find()) {
      throw new IOException("no VmRSS in /proc/" + pid + "/status");
    }
    return new Memory(Long.parseLong(rss.group(1)) * 1024, Long.parseLong(heap.group(1)) * 1024);
  }

  /** User plus system CPU time of process {@code pid}, in clock ticks (fields 14 and 15). */
  static long cpuTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // fields[0] is field 3 (the state).
    return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
  }

  /** Runs a short command to its end; its output, or an IOException with its error output. */
  private static String run(List<String> command, boolean quiet)
      throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    String output;
    try (var in = process.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!process.waitFor(COMMAND_DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not end within " + COMMAND_DEADLINE);
    }
    if (process.exitValue() != 0) {
      throw new IOException(
          String.join(" ", command)
              + " failed (exit "
              + process.exitValue()
              + ")"
              + (quiet ? "" : ": " + output.strip()));
    }
    return output;
  }

  private Child start(
      String name, List<String> command, Map<String, String> env, Path log, boolean stopsOnEof)
      throws IOException {
    synchronized (cleanupLock) {
      if (cleaned) {
        throw new IOException("the bench is stopping");
      }
      Child child = new Child(name, command, env, log, stopsOnEof);
      children.add(child);
      return child;
    }
  }

  private void cleanupQuietly() {
    try {
      cleanup();
    } catch (IOException e) {
      System.err.println("bench: swarm clean-up: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the processes, then removes the namespace, veth, segments and data dir. Idempotent. */
  private void cleanup() throws IOException, InterruptedException {
    synchronized (cleanupLock) {
      if (cleaned) {
        return;
      }
      cleaned = true;
    }
    List<String> problems = new ArrayList<>();
    List<Child> started;
    synchronized (cleanupLock) {
      started = List.copyOf(children);
    }
    // The swarm first, so the coordinator sees its workers leave rather than vanish.
    for (Child child : started.reversed()) {
      child.stop(STOP_DEADLINE);
    }
    if (networkMade) {
      List<List<String>> removals =
          List.of(List.of("ip", "link", "del", hostVeth), List.of("ip", "netns", "del", namespace));
      for (List<String> removal : removals) {
        try {
          run(removal, false);
        } catch (IOException e) {
          // Gone already is what was wanted: a half-made network lacks one or the other.
          if (!e.getMessage().contains("Cannot find") && !e.getMessage().contains("No such")) {
            problems.add(e.getMessage());
          }
        }
      }
    }
    if (coordinatorId != null) {
      try (DirectoryStream<Path> segments =
          Files.newDirectoryStream(Path.of("/dev/shm"), "weft-" + coordinatorId + "-*")) {
        for (Path segment : segments) {
          Files.deleteIfExists(segment);
        }
      } catch (IOException e) {
        problems.add("removing shared-memory segments: " + e.getMessage());
      }
    }
    if (dataDir != null) {
      try {
        dataDir.close();
      } catch (IOException e) {
        problems.add("removing " + dataDir + ": " + e.getMessage());
      }
    }
    if (!problems.isEmpty()) {
      throw new IOException(String.join("; ", problems));
    }
  }

  /** A process of the bench: its stdout lines queued for {@link #awaitLine}, stderr to a log. */
  private static final class Child {
    private static final String EOF = "\0eof";
    private final String name;
    private final Process process;
    private final Path log;
    private final boolean stopsOnEof;
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();

    /**
     * @param stopsOnEof whether the end of its input stops it (the swarm); otherwise SIGTERM does
     */
    Child(String name, List<String> command, Map<String, String> env, Path log, boolean stopsOnEof)
        throws IOException {
      this.name = name;
      this.log = log;
      this.stopsOnEof = stopsOnEof;
      ProcessBuilder builder =
          new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
      builder.environment().putAll(env);
      this.process = builder.start();
      Thread.ofPlatform()
          .daemon()
          .name("bench-swarm-" + name)
          .start(
              () -> {
                try (BufferedReader out =
                    new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                  String line;
                  while ((line = out.readLine()) != null) {
                    lines.add(line);
                  }
                } catch (IOException e) {
                  lines.add("error reading the " + name + "'s output: " + e.getMessage());
                }
                lines.add(EOF);
              });
    }

    long pid() {
      return process.pid();
    }

    /** The first line (from here on) that {@code pattern} finds something in, its match. */
    Matcher awaitLine(Pattern pattern, Duration deadline) throws IOException, InterruptedException {
      long end = System.nanoTime() + deadline.toNanos();
      while (true) {
        String line = lines.poll(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (line == null) {
          throw new IOException(
              "the "
                  + name
                  + " did not print what was awaited ("
                  + pattern
                  + ") within "
                  + deadline);
        }
        if (line.equals(EOF)) {
          boolean exited = process.waitFor(5, TimeUnit.SECONDS);
          throw new IOException(
              "the "
                  + name
                  + " ended"
                  + (exited ? " with exit code " + process.exitValue() : "")
                  + " before printing what was awaited ("
                  + pattern
                  + ")");
        }
        Matcher matcher = pattern.matcher(line);
        if (matcher.find()) {
          return matcher;
        }
      }
    }

    /** Ends its input (the swarm's cue to leave), SIGTERM, then SIGKILL, each with a wait. */
    void stop(Duration deadline) throws InterruptedException {
      try (OutputStream in = process.getOutputStream()) {
        in.flush();
      } catch (IOException e) {
        // Its input is gone with it: what follows makes sure it is.
      }
      if (stopsOnEof && process.waitFor(deadline.toMillis() / 2, TimeUnit.MILLISECONDS)) {
        return;
      }
      process.destroy();
      if (!process.waitFor(deadline.toMillis() / 2, TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor(deadline.toMillis() / 2, TimeUnit.MILLISECONDS);
      }
    }

    List<String> logTail(int count) {
      try {
        List<String> all = Files.readAllLines(log);
        return all.subList(Math.max(0, all.size() - count), all.size());
      } catch (IOException e) {
        return List.of("(cannot read " + log + ": " + e.getMessage() + ")");
      }
    }
  }
}
