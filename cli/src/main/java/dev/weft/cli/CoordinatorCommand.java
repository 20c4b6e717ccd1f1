package dev.weft.cli;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.local.HostIdentity;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code weft coordinator}: serves clients and workers until SIGTERM or Ctrl-C. */
@Command(
    name = "coordinator",
    mixinStandardHelpOptions = true,
    description = {
      "Run a coordinator: it takes jobs from clients and hands their tasks to workers.",
      "SIGTERM or Ctrl-C stops it gracefully (exit 0); a second one stops it at once.",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft coordinator",
      "  weft coordinator --listen 0.0.0.0:7070",
      "  weft coordinator --local-workers 2 --local-transport shm",
    })
final class CoordinatorCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = Address.DEFAULT,
      converter = Address.ListenConverter.class,
      description =
          "Where to serve clients and workers; port 0 picks a free one"
              + " (default: ${DEFAULT-VALUE}).")
  private Address listen;

  @Option(
      names = "--heartbeat",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description = "How often workers and the coordinator exchange heartbeats (default: 2s).")
  private Duration heartbeat;

  @Option(
      names = "--lease",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "A worker silent this long loses its tasks to others; more than twice"
              + " --heartbeat (default: 10s).")
  private Duration lease;

  @Option(
      names = "--transport",
      paramLabel = "MODE",
      defaultValue = "auto",
      description =
          "For workers on this host: auto moves them to shared memory when it works, grpc never"
              + " does, shm refuses workers that cannot (default: ${DEFAULT-VALUE}).")
  private String transport;

  @Option(
      names = "--local-workers",
      paramLabel = "N",
      defaultValue = "0",
      description = "Also start N workers on this host and supervise them (default: none).")
  private int localWorkers;

  @Option(
      names = "--local-transport",
      paramLabel = "LINK",
      defaultValue = "pipe",
      description =
          "How local workers are linked: pipe (their stdin/stdout), shm (pipes upgraded to shared"
              + " memory) or grpc (they attach to the port) (default: ${DEFAULT-VALUE}).")
  private String localTransport;

  @Option(
      names = "--local-slots",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Slots per local worker; 0 for the number of cores (default: ${DEFAULT-VALUE}).")
  private int localSlots;

  @Option(
      names = "--data-dir",
      paramLabel = "DIR",
      description =
          "Where the coordinator keeps its state (default: $XDG_DATA_HOME/weft, else"
              + " ~/.local/share/weft).")
  private java.nio.file.Path dataDir;

  @Option(
      names = "--hash-root",
      paramLabel = "DIR",
      description =
          "A directory under which hash jobs may read files; repeat for more (default: the"
              + " directory the coordinator starts in).")
  private List<java.nio.file.Path> hashRoots;

  @Override
  public Integer call() throws InterruptedException {
    CoordinatorConfig config =
        new CoordinatorConfig()
            .dataDir(dataDir != null ? dataDir : CoordinatorConfig.defaultDataDir())
            .listen(listen.host(), listen.port())
            .fastPath(transport)
            .localWorkers(
                localWorkers, localTransport, localSlots, WeftJvm.command(List.of("worker")));
    if (hashRoots != null) {
      config.hashRoots(hashRoots);
    }
    if (heartbeat != null) {
      config.heartbeatIntervalMs(heartbeat.toMillis());
    }
    if (lease != null) {
      config.leaseMs(lease.toMillis());
    }
    try {
      config.conclude();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    Coordinator coordinator;
    try {
      coordinator = Coordinator.start(config);
    } catch (IOException e) {
      throw CliException.usage(
          "cannot listen on "
              + listen
              + " ("
              + rootMessage(e)
              + "); is another coordinator running? Choose another with --listen HOST:PORT");
    }
    Address bound = new Address(listen.host(), coordinator.port());
    PrintWriter out = spec.commandLine().getOut();
    out.printf("weft coordinator %s listening on %s%n", coordinator.id(), bound);
    out.printf("join a worker:  weft worker --join %s%n", joinAddress(bound));
    out.flush();
    // The signal handlers cover SIGINT and SIGTERM; the hook covers every other way the JVM may end
    // (SIGHUP).
    Thread hook = new Thread(coordinator::close, "weft-coordinator-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try (StopSignals _ =
        StopSignals.handle(
            coordinator::shutdown,
            () -> Runtime.getRuntime().halt(ExitCodes.INTERRUPTED),
            "INT",
            "TERM")) {
      coordinator.awaitTermination();
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      return ExitCodes.OK; // the JVM is already exiting: the hook is what stopped the coordinator
    }
    out.println("weft coordinator " + coordinator.id() + " stopped");
    out.flush();
    return ExitCodes.OK;
  }

  /** The address a worker on another host would use when we listen on every interface. */
  private static Address joinAddress(Address bound) {
    return switch (bound.host()) {
      case "0.0.0.0", "::", "" -> new Address(HostIdentity.localHostname(), bound.port());
      default -> bound;
    };
  }

  private static String rootMessage(Throwable e) {
    while (e.getCause() != null) {
      e = e.getCause();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
