package dev.weft.cli;

import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code weft worker --join HOST:PORT}: runs tasks until SIGTERM or Ctrl-C. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    description = {
      "Run a worker: it attaches to a coordinator (and re-attaches when it comes back) and runs"
          + " tasks on its slots.",
      "SIGTERM or Ctrl-C drains it: it takes no new tasks, hands its queued ones back to the"
          + " coordinator (which runs them elsewhere), lets running ones finish within --drain-grace,"
          + " hands back what is left, detaches and exits 0; a second signal kills its task"
          + " processes and exits at once (130).",
      "A task that ignores its cancel past the grace period is stuck: its slot stays taken. When"
          + " stuck tasks hold every slot (or one does, with --exit-when-stuck) the worker drains"
          + " and exits 75 for its supervisor to start it afresh.",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft worker --join 127.0.0.1:7070",
      "  WEFT_TOKEN=weft1-... weft worker --join coordinator.example:7070 --slots 16 --id r01",
      "",
      "A coordinator beyond loopback uses TLS and wants its join token (from its output or"
          + " `weft token show`). A worker it refuses (a wrong or rotated token, a certificate"
          + " that does not match the token) exits 77.",
    })
final class WorkerCommand implements Callable<Integer> {
  // Held so the level set in call() sticks (JUL forgets loggers nobody references).
  private static final java.util.logging.Logger QUIET_ROOT = java.util.logging.Logger.getLogger("");

  @Spec private CommandSpec spec;

  @Option(
      names = "--join",
      paramLabel = "HOST:PORT[,HOST:PORT...]",
      converter = AddressConverters.Join.class,
      description =
          "The coordinator's address (required); or the addresses of coordinators sharing one"
              + " journal, separated by commas: the worker attaches to the leader and follows it"
              + " to another address when it changes.")
  private Addresses join;

  @Mixin private TlsClientOptions tls;

  @Option(
      names = "--transport",
      paramLabel = "MODE",
      defaultValue = "auto",
      description =
          "auto: move to shared memory when the coordinator is on this host and offers it;"
              + " grpc: never; shm: insist on it (default: ${DEFAULT-VALUE}).")
  private String transport;

  // Set by a coordinator that spawns its own workers: the link is this process's stdin/stdout.
  @Option(names = "--stdio", hidden = true)
  private boolean stdio;

  @Option(
      names = "--slots",
      paramLabel = "N",
      description = "Tasks run at once (default: the number of cores, here ${DEFAULT-VALUE}).")
  private int slots = Runtime.getRuntime().availableProcessors();

  @Option(names = "--id", paramLabel = "ID", description = "The worker's name (default: HOST-PID).")
  private String id;

  @Option(
      names = "--prefetch",
      paramLabel = "auto|N",
      description =
          "Tasks queued beyond the slots, so a busy worker never waits for a round trip: auto"
              + " (as many as the slots) or a number 0..65536 (default: auto).")
  private String prefetch;

  @Option(
      names = "--drain-grace",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "On SIGTERM, how long running tasks may take to finish before they are handed back"
              + " (default: 10s).")
  private java.time.Duration drainGrace;

  @Option(
      names = "--exit-when-stuck",
      description =
          "Drain and exit (75) as soon as one task is stuck, not only when stuck tasks hold every"
              + " slot.")
  private boolean exitWhenStuck;

  @Option(
      names = "--resources",
      paramLabel = "cpu=N,mem=SIZE,gpu=N,NAME=N",
      converter = WorkerResources.Converter.class,
      description =
          "What the worker's tasks may ask for in all: CPUs (1.5 or 1500m), memory (512m, 4g), GPUs"
              + " (numbered from 0), and resources of your own by name (default: cpu as the slots,"
              + " mem as the worker's cgroup memory limit or the host's memory, gpu=0). Each exec"
              + " task gets cpu.max and memory.max from what it asks, where the worker can make"
              + " task cgroups, and CUDA_VISIBLE_DEVICES for its GPUs.")
  private WorkerResources resources;

  @Option(
      names = "--label",
      paramLabel = "KEY=VALUE",
      split = ",",
      converter = WorkerLabel.Converter.class,
      description =
          "A label jobs may require of their workers (zone=eu-west); repeat it, or separate labels"
              + " with commas. Keys and values are letters, digits and . _ / -.")
  private List<WorkerLabel> labels = new ArrayList<>();

  @Option(
      names = "--log-dir",
      paramLabel = "DIR",
      description =
          "Where the full stdout and stderr of exec tasks are kept, for `weft logs` and `weft"
              + " results` (created with mode 0700; default:"
              + " $XDG_STATE_HOME/weft/task-logs/ID, or ~/.local/state/weft/task-logs/ID).")
  private java.nio.file.Path logDir;

  @Option(
      names = "--task-log-bytes",
      paramLabel = "SIZE",
      converter = SizeConverter.class,
      description =
          "The newest bytes of each output stream of a task kept in its log; older ones are"
              + " dropped (default: 1m; 0 keeps no logs).")
  private Long taskLogBytes;

  @Option(
      names = "--log-retention",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description = "How long task logs are kept after they were last written (default: 24h).")
  private java.time.Duration logRetention;

  @Option(
      names = "--http-listen",
      paramLabel = "HOST:PORT|off",
      description =
          "Serve /metrics (Prometheus) and /healthz here, in plain text: on loopback only, as a"
              + " worker has no certificate of its own, unless it runs --insecure; port 0 picks a"
              + " free one (default: off).")
  private String httpListen;

  @Option(names = "--plugins", paramLabel = "DIR", description = PluginOption.DESCRIPTION)
  private java.nio.file.Path plugins;

  // Set by `weft demo` (and any launcher) so a worker never outlives the process that started it.
  @Option(names = "--parent-pid", hidden = true)
  private Long parentPid;

  // Set by `weft bench`: the worker's INFO lines would interleave with the bench's output.
  @Option(names = "--quiet", hidden = true)
  private boolean quiet;

  @Override
  public Integer call() throws InterruptedException {
    if (quiet) {
      QUIET_ROOT.setLevel(java.util.logging.Level.WARNING);
    }
    WorkerConfig config = config();
    Worker worker;
    try {
      worker = Worker.start(config);
    } catch (java.io.UncheckedIOException e) {
      throw CliException.usage(e.getMessage()); // it names the HTTP address and why
    }
    // With --stdio, stdout carries the link's frames: say everything else on stderr.
    PrintWriter out = stdio ? spec.commandLine().getErr() : spec.commandLine().getOut();
    out.printf(
        "weft worker %s %s with %d slot%s%n",
        worker.id(),
        stdio
            ? "on stdin/stdout"
            : "joining "
                + join
                + (config.security() == null
                    ? ""
                    : config.security().tls() ? " over TLS" : " in plain text"),
        config.slots(),
        config.slots() == 1 ? "" : "s");
    if (worker.httpPort() >= 0) {
      String host = config.httpAddress().getHostAddress();
      out.printf(
          "http:           http://%s:%d (/metrics, /healthz)%n",
          host.contains(":") ? "[" + host + "]" : host, worker.httpPort());
    }
    out.flush();
    Thread hook = new Thread(worker::close, "weft-worker-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try (StopSignals _ =
        StopSignals.handle(
            () -> worker.drain("stopped by a signal"),
            () -> {
              worker.killTasksNow();
              Runtime.getRuntime().halt(ExitCodes.INTERRUPTED);
            },
            "INT",
            "TERM")) {
      worker.awaitTermination();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      return ExitCodes.OK; // the JVM is already exiting: the hook is what stopped the worker
    }
    if (worker.refusal().isPresent()) {
      spec.commandLine()
          .getErr()
          .println("weft worker " + worker.id() + " stopped: " + worker.refusal().get());
      spec.commandLine().getErr().flush();
      return ExitCodes.REFUSED;
    }
    if (worker.exitedStuck()) {
      out.println(
          "weft worker " + worker.id() + " stopped: stuck tasks held its slots; start it afresh");
      out.flush();
      return ExitCodes.STUCK;
    }
    out.println("weft worker " + worker.id() + " stopped");
    out.flush();
    return ExitCodes.OK;
  }

  /**
   * The worker's settings from the options, checked.
   *
   * @throws ParameterException or {@link CliException} when they are not usable
   */
  WorkerConfig config() {
    if (join == null && !stdio) {
      throw new ParameterException(
          spec.commandLine(), "Missing required option: '--join=HOST:PORT[,HOST:PORT...]'");
    }
    WorkerConfig config =
        new WorkerConfig()
            .slots(slots)
            .transport(transport)
            .stdio(stdio)
            .exitWhenStuck(exitWhenStuck);
    if (plugins != null) {
      dev.weft.kinds.PluginDir.Loaded loaded = PluginOption.load(plugins);
      config.kinds(loaded.kinds());
      // With --stdio, stdout carries the link's frames.
      PrintWriter out = stdio ? spec.commandLine().getErr() : spec.commandLine().getOut();
      PluginOption.print(out, loaded);
      out.flush();
    }
    if (logDir != null) {
      config.logDir(logDir);
    }
    if (taskLogBytes != null) {
      config.taskLogBytes(taskLogBytes);
    }
    if (logRetention != null) {
      config.logRetentionMs(logRetention.toMillis());
    }
    if (drainGrace != null) {
      config.drainGraceMs(drainGrace.toMillis());
    }
    if (join != null) {
      config.join(join.toString());
    }
    if (id != null) {
      config.id(id);
    }
    if (parentPid != null) {
      config.parentPid(parentPid);
    }
    if (!stdio) {
      // Addresses given no token on loopback look theirs up before each attach: a worker may start
      // before its local coordinator has; until then it waits, never attaching in plain text to
      // whatever holds the port. The others take the settings given, which must exist.
      ClientSecurity given = null;
      for (Address address : join.all()) {
        if (!tls.findsToken(address) && given == null) {
          given = tls.security(address, true);
          if (given == null) {
            throw TlsClientOptions.noToken(address, true);
          }
        }
      }
      ClientSecurity settings = given;
      config.security(
          (dev.weft.worker.CoordinatorAddress named) -> {
            Address address = new Address(named.host(), named.port());
            return settings != null && !tls.findsToken(address)
                ? settings
                : tls.security(address, true);
          });
    }
    try {
      if (prefetch != null) {
        config.prefetch(prefetch);
      }
      if (resources != null) {
        resources.applyTo(config);
      }
      for (WorkerLabel label : labels) {
        config.label(label.key(), label.value());
      }
      if (httpListen != null && !httpListen.equals("off")) {
        Address http;
        try {
          http = Address.parse(httpListen, true);
        } catch (IllegalArgumentException e) {
          throw CliException.usage("--http-listen: " + e.getMessage() + ", or off");
        }
        config.httpListen(http.host(), http.port(), tls.insecure);
      }
      config.conclude();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    return config;
  }
}
