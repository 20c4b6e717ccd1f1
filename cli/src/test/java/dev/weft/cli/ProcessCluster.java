package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Real weft processes for end-to-end tests: a coordinator JVM on a free loopback port, worker JVMs,
 * and the CLI run in this JVM or as a JVM of its own. {@link #close()} stops every process it
 * started (SIGTERM, then SIGKILL after a deadline) and checks that this JVM has no child left.
 */
final class ProcessCluster implements AutoCloseable {
  static final Duration START_DEADLINE = Duration.ofSeconds(30);
  static final Duration STOP_DEADLINE = Duration.ofSeconds(10);
  static final Duration CLI_DEADLINE = Duration.ofSeconds(60);
  private static final Pattern LISTENING =
      Pattern.compile("weft coordinator (\\S+) listening on (\\S+)");
  private static final String JOIN_LINE = "join a worker:";
  private static final Pattern HTTP = Pattern.compile("(?m)^http: +(\\S+) ");
  private static final Pattern TOKEN = Pattern.compile("join a worker: .*--token (\\S+)");

  private final Path dir;
  private final java.util.Set<Long> earlier;
  private final List<Process> processes = new ArrayList<>();
  private final List<Path> logs = new ArrayList<>();
  private Process coordinatorProcess;
  private Address coordinator;
  private String coordinatorId;
  private String token;
  private String adminToken;
  private Path coordinatorLog;

  ProcessCluster() throws IOException {
    this.dir = Files.createTempDirectory("weft-e2e-");
    // A server the test class started before the cluster (PostgreSQL) outlives it.
    this.earlier =
        ProcessHandle.current()
            .descendants()
            .map(ProcessHandle::pid)
            .collect(java.util.stream.Collectors.toSet());
  }

  /** Whether {@code p} was started by this cluster: it is no earlier process nor one of theirs. */
  private boolean ours(ProcessHandle p) {
    for (Optional<ProcessHandle> at = Optional.of(p); at.isPresent(); at = at.get().parent()) {
      if (earlier.contains(at.get().pid())) {
        return false;
      }
    }
    return true;
  }

  /** {@code java [weft's flags] -cp <this JVM's class path> dev.weft.cli.Main args...}. */
  static List<String> weftCommand(String... args) {
    return WeftJvm.command(Arrays.asList(args));
  }

  /**
   * Starts a coordinator on {@code port} (0: a free one; fast heartbeats, so lost workers are
   * noticed soon), with {@code options} added to its own, and returns once it has printed where it
   * listens.
   */
  Address startCoordinator(int port, String... options) throws IOException, InterruptedException {
    return startCoordinator("127.0.0.1", port, options);
  }

  /** As {@link #startCoordinator(int, String...)}, with {@code env} added to its environment. */
  Address startCoordinator(Map<String, String> env, int port, String... options)
      throws IOException, InterruptedException {
    return startCoordinator(env, "127.0.0.1", port, options);
  }

  private Address startCoordinator(String host, int port, String... options)
      throws IOException, InterruptedException {
    return startCoordinator(Map.of(), host, port, options);
  }

  private Address startCoordinator(
      Map<String, String> env, String host, int port, String... options)
      throws IOException, InterruptedException {
    List<String> args =
        new ArrayList<>(
            List.of(
                "coordinator",
                "--listen",
                host + ":" + port,
                "--heartbeat",
                "500ms",
                "--lease",
                "4s"));
    Path usedDataDir = dataDir();
    int given = Arrays.asList(options).indexOf("--data-dir");
    if (given < 0) {
      // Never the user's data dir; the same one for a coordinator started again in this cluster.
      args.addAll(List.of("--data-dir", dataDir().toString()));
    } else {
      usedDataDir = Path.of(options[given + 1]);
    }
    if (!Arrays.asList(options).contains("--http-listen")) {
      // Not the default port, which the user's own coordinator (or another test's) may hold.
      args.addAll(List.of("--http-listen", "127.0.0.1:0"));
    }
    args.addAll(Arrays.asList(options));
    coordinatorProcess = spawnWith(List.of(), "coordinator", env, args.toArray(String[]::new));
    Path log = logs.getLast();
    Process process = coordinatorProcess;
    Await.until(
        "the coordinator to print its port",
        START_DEADLINE,
        () -> joinLineComplete(read(log)) || !process.isAlive(),
        this::logTails);
    Matcher m = LISTENING.matcher(read(log));
    if (!m.find()) {
      throw new AssertionError("the coordinator exited early\n" + logTails());
    }
    coordinator = Address.parse(m.group(2), false);
    coordinatorId = m.group(1);
    coordinatorLog = log;
    Matcher t = TOKEN.matcher(read(log));
    token = t.find() ? t.group(1) : null;
    Path admin = usedDataDir.resolve("security/admin-token");
    adminToken = Files.exists(admin) ? Files.readString(admin).strip() : null;
    return coordinator;
  }

  /** The banner's join line has been written whole (the token at its end, too). */
  private static boolean joinLineComplete(String log) {
    int at = log.indexOf(JOIN_LINE);
    return at >= 0 && log.indexOf('\n', at) > 0;
  }

  /**
   * The join token the coordinator printed (one beyond loopback, or with --tls on), or null. The
   * workers and clients this cluster starts get it (workers by environment, as a user would).
   */
  String token() {
    return token;
  }

  private Map<String, String> tokenEnv() {
    return token == null ? Map.of() : Map.of("WEFT_TOKEN", token);
  }

  /**
   * The coordinator's admin client token (from its data dir, as its user's commands find it), or
   * null for a plain-text one: what this cluster's clients pass.
   */
  String adminToken() {
    return adminToken;
  }

  /**
   * A channel to the coordinator as its admin client (TLS pinned by the admin token), for tests
   * that speak gRPC themselves; plain text to a coordinator without one (--insecure).
   */
  io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder channelBuilder() {
    return io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress(
        coordinator.host(),
        coordinator.port(),
        new dev.weft.security.ClientSecurity().token(adminToken).conclude().credentials());
  }

  private Map<String, String> clientTokenEnv() {
    return adminToken == null ? Map.of() : Map.of("WEFT_TOKEN", adminToken);
  }

  /** The coordinators' data dir (their journal), removed with the cluster. */
  Path dataDir() {
    return dir.resolve("data");
  }

  /** The started coordinator's id, which names its shared-memory segments. */
  String coordinatorId() {
    return coordinatorId;
  }

  List<Process> processes() {
    return List.copyOf(processes);
  }

  Process coordinatorProcess() {
    return coordinatorProcess;
  }

  Address coordinator() {
    return coordinator;
  }

  /**
   * The coordinator's HTTP port as its banner prints it ({@code http://127.0.0.1:PORT}), which
   * comes after the lines {@link #startCoordinator} waits for.
   */
  String httpUrl() throws InterruptedException {
    Await.until(
        "the coordinator to print its HTTP port",
        START_DEADLINE,
        () -> HTTP.matcher(read(coordinatorLog)).find(),
        this::logTails);
    Matcher h = HTTP.matcher(read(coordinatorLog));
    if (!h.find()) {
      throw new AssertionError("no HTTP port in the banner\n" + logTails());
    }
    return h.group(1);
  }

  /** Starts a worker joining this cluster's coordinator; {@code options} are added to its own. */
  Process startWorker(String id, int slots, String... options) throws IOException {
    return startWorker(coordinator, id, slots, options);
  }

  /** The same, with {@code env} on top of the cluster's ({@code WEFT_TOKEN} when it has one). */
  Process startWorker(Map<String, String> env, String id, int slots, String... options)
      throws IOException {
    Map<String, String> all = new HashMap<>(tokenEnv());
    all.putAll(env);
    return spawnWith(List.of(), id, all, workerArgs(coordinator, id, slots, options));
  }

  private Process startWorker(Address join, String id, int slots, String... options)
      throws IOException {
    return startWorkerJoining(join.toString(), id, slots, options);
  }

  /**
   * Starts a worker with {@code --join join} as given: several addresses, say, of coordinators
   * sharing a journal.
   */
  Process startWorkerJoining(String join, String id, int slots, String... options)
      throws IOException {
    return spawnWith(List.of(), id, tokenEnv(), workerArgs(join, id, slots, options));
  }

  private static String[] workerArgs(Address join, String id, int slots, String... options) {
    return workerArgs(join.toString(), id, slots, options);
  }

  private static String[] workerArgs(String join, String id, int slots, String... options) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "worker",
                "--join",
                join,
                "--id",
                id,
                "--slots",
                Integer.toString(slots),
                "--parent-pid",
                Long.toString(ProcessHandle.current().pid())));
    args.addAll(Arrays.asList(options));
    return args.toArray(String[]::new);
  }

  /**
   * Starts a coordinator and {@code count} workers with two slots each, and waits for them. The
   * JVMs start side by side on a port chosen here (workers retry until the coordinator is up),
   * which saves a JVM start-up per test.
   */
  void startWithWorkers(int count) throws IOException, InterruptedException {
    // Workers first: they retry until the coordinator is up, and find its join token then.
    Address address = new Address("127.0.0.1", freePort());
    for (int i = 1; i <= count; i++) {
      startWorker(address, "w" + i, 2);
    }
    startCoordinator(address.port());
    awaitWorkers(count);
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  void awaitWorkers(int count) throws InterruptedException {
    Await.until(
        count + " workers to attach",
        START_DEADLINE,
        () -> {
          CliResult r = client("workers", "--json");
          return r.exitCode() == 0 && r.workers().size() == count;
        },
        this::logTails);
  }

  /** Runs the CLI in this JVM against this cluster's coordinator. */
  CliResult client(String... args) {
    return cli(withCoordinator(args));
  }

  /** Runs the CLI in this JVM, capturing what it prints. */
  static CliResult cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = Main.newCommandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int code = cmd.execute(args);
    return new CliResult(code, out.toString(), err.toString());
  }

  /** Runs the CLI as a JVM of its own against this cluster's coordinator. */
  CliResult clientProcess(String... args) throws IOException, InterruptedException {
    return cliProcess(withCoordinator(args));
  }

  /** Runs the CLI as a JVM of its own, waits for it (with a deadline) and returns what it did. */
  CliResult cliProcess(String... args) throws IOException, InterruptedException {
    return cliProcess(Map.of(), args);
  }

  /** The same, with extra environment variables. */
  CliResult cliProcess(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    return startCliProcess(env, args).await();
  }

  /** Starts the CLI as a JVM of its own against this cluster's coordinator, without waiting. */
  RunningCli startClientProcess(String... args) throws IOException {
    return startCliProcess(Map.of(), withCoordinator(args));
  }

  /**
   * Starts the CLI as a JVM of its own with exactly {@code args} (no --coordinator added) and the
   * cluster's admin token in {@code WEFT_TOKEN} unless {@code env} overrides it; does not wait.
   */
  RunningCli startCliProcess(Map<String, String> env, String... args) throws IOException {
    Path out = Files.createTempFile(dir, "cli-", ".out");
    Path err = Files.createTempFile(dir, "cli-", ".err");
    ProcessBuilder builder = new ProcessBuilder(weftCommand(args));
    builder.environment().putAll(clientTokenEnv());
    builder.environment().putAll(env);
    Process process =
        builder
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    processes.add(process);
    return new RunningCli(process, List.of(args), out, err);
  }

  /** A CLI JVM started by this cluster; {@link ProcessCluster#close()} stops it if still alive. */
  record RunningCli(Process process, List<String> args, Path out, Path err) {
    /** What it has printed on stderr so far. */
    String errSoFar() {
      return read(err);
    }

    /** Waits (with a deadline) for it to exit and returns what it did. */
    CliResult await() throws InterruptedException {
      if (!process.waitFor(CLI_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(
            "weft "
                + String.join(" ", args)
                + " did not finish within "
                + CLI_DEADLINE
                + "\n"
                + new CliResult(-1, read(out), read(err)));
      }
      return new CliResult(process.exitValue(), read(out), read(err));
    }
  }

  /**
   * {@code --coordinator} (and {@code --token}, the admin token, when there is one) go before any
   * {@code --}: what follows that is the exec command.
   */
  private String[] withCoordinator(String... args) {
    List<String> all = new ArrayList<>(Arrays.asList(args));
    int end = all.indexOf("--");
    List<String> options = new ArrayList<>(List.of("--coordinator", coordinator.toString()));
    if (adminToken != null && !all.contains("--token")) {
      options.addAll(List.of("--token", adminToken));
    }
    all.addAll(end < 0 ? all.size() : end, options);
    return all.toArray(String[]::new);
  }

  private Process spawn(String name, String... args) throws IOException {
    return spawnWith(List.of(), name, Map.of(), args);
  }

  /**
   * Starts a worker inside network namespace {@code netns} ({@code ip netns exec}), joining {@code
   * join}; {@code options} are added to its own.
   */
  Process startWorkerInNamespace(
      String netns, Address join, String id, int slots, String... options) throws IOException {
    return spawnWith(
        List.of("ip", "netns", "exec", netns),
        id,
        tokenEnv(),
        workerArgs(join, id, slots, options));
  }

  /**
   * Starts a coordinator listening on {@code host} (a free port), with fast heartbeats, and returns
   * once it has printed where it listens.
   */
  Address startCoordinatorOn(String host, String... options)
      throws IOException, InterruptedException {
    return startCoordinator(host, freePort(), options);
  }

  /**
   * The HTTP port process {@code name} ({@code coordinator}, or a worker's id) printed at start,
   * waited for: its {@code http:} line.
   */
  int httpPort(String name) throws InterruptedException {
    Path log = dir.resolve(name + ".log");
    Pattern line = Pattern.compile("(?m)^http: +https?://\\S+:(\\d+) ");
    AtomicReference<Matcher> found = new AtomicReference<>();
    Await.until(
        name + " to print its HTTP port",
        START_DEADLINE,
        () -> {
          Matcher m = line.matcher(Files.exists(log) ? read(log) : "");
          found.set(m);
          return m.find();
        },
        this::logTails);
    return Integer.parseInt(found.get().group(1));
  }

  /** The XDG state directory of the cluster's processes: workers' task logs go under it. */
  Path stateHome() {
    return dir.resolve("state");
  }

  private Process spawnWith(
      List<String> prefix, String name, Map<String, String> env, String... args)
      throws IOException {
    Path log = dir.resolve(name + ".log");
    for (int n = 2; Files.exists(log); n++) {
      log = dir.resolve(name + "-" + n + ".log"); // a coordinator started again keeps its first log
    }
    List<String> command = new ArrayList<>(prefix);
    command.addAll(weftCommand(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    // Workers keep their task logs under the cluster's directory, never the user's.
    builder.environment().put("XDG_STATE_HOME", stateHome().toString());
    builder.environment().putAll(env);
    Process process =
        builder
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    processes.add(process);
    logs.add(log);
    return process;
  }

  /**
   * Starts {@code weft ARGS} as process {@code name} of this cluster (with the {@code prefix}
   * command before it, such as {@code ip netns exec NS}) and waits until its log matches {@code
   * ready}: for a second coordinator, which stands by.
   */
  Process startAndAwait(
      List<String> prefix, String name, Map<String, String> env, String ready, String... args)
      throws IOException, InterruptedException {
    Process process = spawnWith(prefix, name, env, args);
    Path log = logs.getLast();
    Await.until(
        name + " to print '" + ready + "'",
        START_DEADLINE,
        () -> read(log).contains(ready) || !process.isAlive(),
        this::logTails);
    if (!process.isAlive()) {
      throw new AssertionError(name + " exited early\n" + logTails());
    }
    return process;
  }

  /** What process {@code name} printed so far (its first log). */
  String log(String name) {
    return read(dir.resolve(name + ".log"));
  }

  /** Starts the CLI as a JVM of its own with exactly {@code args} (and the admin token). */
  RunningCli startCli(String... args) throws IOException {
    return startCliProcess(Map.of(), args);
  }

  /** Starts {@code weft ARGS} as a process of this cluster (logged, stopped with it). */
  Process startProcess(String name, Map<String, String> env, String... args) throws IOException {
    return spawnWith(List.of(), name, env, args);
  }

  /** The workers attached now, as {@code weft workers} lists them. */
  List<WorkerInfo> workers() {
    return client("workers", "--json").workers();
  }

  /** Tasks worker {@code workerId} holds now; 0 when it is not attached. */
  int busy(String workerId) {
    return workers().stream()
        .filter(w -> w.getId().equals(workerId))
        .mapToInt(WorkerInfo::getBusy)
        .sum();
  }

  /** The process of attached worker {@code workerId}, which this cluster started. */
  Process workerProcess(String workerId) {
    long pid =
        workers().stream()
            .filter(w -> w.getId().equals(workerId))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no worker " + workerId + " is attached"))
            .getPid();
    return processes.stream()
        .filter(p -> p.pid() == pid)
        .findFirst()
        .orElseThrow(() -> new AssertionError("worker " + workerId + " is not a process of ours"));
  }

  /** Waits until job {@code id} has ended (SUCCEEDED, FAILED or CANCELLED) and returns it. */
  Job awaitEnd(String id, Duration timeout) throws InterruptedException {
    AtomicReference<Job> last = new AtomicReference<>();
    Await.until(
        "job " + id + " to end",
        timeout,
        () -> {
          last.set(client("status", id, "--json").job());
          JobState state = last.get().getState();
          return state == JobState.SUCCEEDED
              || state == JobState.FAILED
              || state == JobState.CANCELLED;
        },
        () -> "last seen: " + last.get() + "\n" + logTails());
    return last.get();
  }

  /** The last lines of every process's output, for failure messages. */
  String logTails() {
    StringBuilder out = new StringBuilder();
    for (Path log : logs) {
      List<String> lines = read(log).lines().toList();
      out.append("--- ").append(log.getFileName()).append(":\n");
      lines
          .subList(Math.max(0, lines.size() - 30), lines.size())
          .forEach(line -> out.append("  ").append(line).append('\n'));
    }
    return out.toString();
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Stops the workers, then the coordinator (SIGTERM; SIGKILL after {@link #STOP_DEADLINE}), and
   * fails if any process started by this JVM is still alive afterwards.
   */
  @Override
  public void close() throws InterruptedException, IOException {
    // Workers and CLI processes first, all at once; the coordinator last, as a user would.
    List<Process> others = new ArrayList<>(processes);
    others.remove(coordinatorProcess);
    List<Long> ignoredSigterm = new ArrayList<>(stop(others));
    if (coordinatorProcess != null) {
      ignoredSigterm.addAll(stop(List.of(coordinatorProcess)));
    }
    Await.until(
        "every child process of the test JVM to exit",
        STOP_DEADLINE,
        () ->
            ProcessHandle.current()
                .descendants()
                .filter(this::ours)
                .noneMatch(ProcessHandle::isAlive),
        () -> {
          StringBuilder left = new StringBuilder("still alive (now killed):\n");
          ProcessHandle.current()
              .descendants()
              .filter(this::ours)
              .forEach(
                  p -> {
                    left.append("  ").append(p.pid()).append(' ').append(p.info()).append('\n');
                    p.destroyForcibly();
                  });
          return left.toString();
        });
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(ProcessCluster::delete);
    }
    if (!ignoredSigterm.isEmpty()) {
      throw new AssertionError("processes " + ignoredSigterm + " ignored SIGTERM; killed them");
    }
  }

  /** SIGTERM, then SIGKILL after the deadline; returns the pids that needed SIGKILL. */
  private static List<Long> stop(List<Process> group) throws InterruptedException {
    group.forEach(Process::destroy);
    long deadline = System.nanoTime() + STOP_DEADLINE.toNanos();
    List<Long> killed = new ArrayList<>();
    for (Process process : group) {
      long left = Math.max(0, deadline - System.nanoTime());
      if (!process.waitFor(left, TimeUnit.NANOSECONDS)) {
        process.destroyForcibly();
        process.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        killed.add(process.pid());
      }
    }
    return killed;
  }

  /** Sends SIGTERM and returns the exit code, for tests of a graceful stop. */
  static int terminate(Process process) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("process " + process.pid() + " ignored SIGTERM; killed it");
    }
    return process.exitValue();
  }

  static void assertExit(int expected, CliResult result) {
    assertEquals(expected, result.exitCode(), () -> "unexpected exit code; " + result);
  }

  private static void delete(Path path) {
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
