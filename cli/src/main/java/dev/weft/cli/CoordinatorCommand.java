package dev.weft.cli;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.DataDirException;
import dev.weft.coordinator.HttpListenException;
import dev.weft.coordinator.JournalUnavailableException;
import dev.weft.coordinator.LeaderElection;
import dev.weft.coordinator.StandbyServer;
import dev.weft.coordinator.UnixSocketException;
import dev.weft.coordinator.security.JoinTokenFiles;
import dev.weft.coordinator.security.LocalCoordinators;
import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.coordinator.security.SharedSecurityFiles;
import dev.weft.coordinator.security.UidGrant;
import dev.weft.local.HostIdentity;
import dev.weft.wire.Address;
import java.io.IOException;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

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
      "  weft coordinator --listen 0.0.0.0:7070 --tls-cert server.pem --tls-key server.key",
      "  weft coordinator --local-workers 2 --local-transport shm",
    })
final class CoordinatorCommand implements Callable<Integer> {
  // The journal's libraries tell every start at INFO; weft says what matters itself.
  private static final java.util.logging.Logger FLYWAY_LOG =
      java.util.logging.Logger.getLogger("org.flywaydb");
  private static final java.util.logging.Logger HIKARI_LOG =
      java.util.logging.Logger.getLogger("com.zaxxer.hikari");

  @Spec private CommandSpec spec;

  @Option(
      names = "--listen",
      paramLabel = "HOST:PORT",
      defaultValue = Address.DEFAULT,
      converter = AddressConverters.Listen.class,
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
      names = "--preempt-after",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "When a job of a higher priority class has waited this long with no free slot, stop"
              + " tasks of the lowest running class (SIGTERM, their grace, SIGKILL) and queue them"
              + " again at no cost to their attempts (default: never preempt).")
  private Duration preemptAfter;

  @Option(
      names = "--max-submit-priority",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "The highest priority class a client that is not an admin may submit at; admins may"
              + " submit at any (default: ${DEFAULT-VALUE}).")
  private int maxSubmitPriority;

  @Option(
      names = "--share",
      paramLabel = "OWNER=WEIGHT",
      description =
          "The weight of an owner's fair share of the slots within a priority class (a token's"
              + " name, or uid:N on the socket); repeatable (default: 1 for every owner).")
  private List<String> shares = List.of();

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

  @Option(names = "--plugins", paramLabel = "DIR", description = PluginOption.DESCRIPTION)
  private java.nio.file.Path plugins;

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
          "Where the coordinator keeps its state: the journal of its jobs, which a restarted"
              + " coordinator resumes from. One coordinator per directory (default:"
              + " $XDG_DATA_HOME/weft, else ~/.local/share/weft).")
  private java.nio.file.Path dataDir;

  @Option(
      names = "--journal",
      paramLabel = "sqlite|URL",
      description =
          "Where the journal of jobs lives: sqlite (default: DATA_DIR/journal.db) or a PostgreSQL"
              + " database, postgresql://HOST[:PORT]/DB?user=NAME. Its password comes from"
              + " --journal-password-file or WEFT_JOURNAL_PASSWORD, never from the URL. Several"
              + " coordinators on one database elect a leader; the others stand by.")
  private String journal;

  @Option(
      names = "--leader-lease",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "With a PostgreSQL --journal: a leader cut off from the database stops within this, and"
              + " a standby takes over after it (default: 10s).")
  private Duration leaderLease;

  @Option(
      names = "--advertise",
      paramLabel = "HOST:PORT",
      description =
          "With a PostgreSQL --journal: where clients and workers reach this coordinator, which"
              + " standbys tell them while it leads (default: the --listen address, with this"
              + " host's name for 0.0.0.0).")
  private String advertise;

  @Option(
      names = "--journal-password-file",
      paramLabel = "FILE",
      description =
          "A file (readable by its owner only) whose first line is the password of --journal's"
              + " database; else WEFT_JOURNAL_PASSWORD is used.")
  private java.nio.file.Path journalPasswordFile;

  @Option(
      names = "--retention",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "How long finished jobs stay queryable, across restarts too; the newest 10000 are kept"
              + " at most (default: 7d).")
  private Duration retention;

  @Option(
      names = "--max-unfinished-jobs",
      paramLabel = "N",
      defaultValue = "10000",
      description =
          "Jobs not yet finished, in total, beyond which submissions are refused with"
              + " RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).")
  private int maxUnfinishedJobs;

  @Option(
      names = "--max-queued-tasks",
      paramLabel = "N",
      defaultValue = "10000000",
      description =
          "Tasks of unfinished jobs, in total, beyond which submissions are refused with"
              + " RESOURCE_EXHAUSTED; at least the 1000000 tasks one job may have (default:"
              + " ${DEFAULT-VALUE}).")
  private long maxQueuedTasks;

  @Option(
      names = "--max-unfinished-jobs-per-owner",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "Jobs not yet finished that one owner (client token) may have (default:"
              + " ${DEFAULT-VALUE}).")
  private int maxUnfinishedJobsPerOwner;

  @Option(
      names = "--max-queued-tasks-per-owner",
      paramLabel = "N",
      defaultValue = "2000000",
      description =
          "Tasks of unfinished jobs that one owner may have; at least the 1000000 tasks one job"
              + " may have (default: ${DEFAULT-VALUE}).")
  private long maxQueuedTasksPerOwner;

  @Option(
      names = "--max-result-bytes",
      paramLabel = "BYTES",
      defaultValue = "1048576",
      description =
          "Bytes of exec output tails one job's result keeps, whatever its workers send (each"
              + " task's stdout and stderr tails are also cut to 4096 bytes); beyond it tails are"
              + " dropped and the result says so (default: ${DEFAULT-VALUE}).")
  private int maxResultBytes;

  @Option(
      names = "--max-calls-per-connection",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "JobService calls one client connection may have in flight; more are refused with"
              + " RESOURCE_EXHAUSTED (default: ${DEFAULT-VALUE}).")
  private int maxCallsPerConnection;

  @Option(
      names = "--max-watches-per-connection",
      paramLabel = "N",
      defaultValue = "100",
      description =
          "WatchJob and RunJob streams one client connection may have open (default:"
              + " ${DEFAULT-VALUE}).")
  private int maxWatchesPerConnection;

  @Option(
      names = "--probe-listen",
      paramLabel = "HOST:PORT",
      converter = AddressConverters.Listen.class,
      description =
          "Also serve grpc.health.v1 alone, in plain text and without a token, here: for probes"
              + " that cannot speak TLS, such as Kubernetes' grpc probe (default: none).")
  private Address probeListen;

  @Option(
      names = "--http-listen",
      paramLabel = "HOST:PORT|off",
      description =
          "Serve HTTP here: /metrics (Prometheus), /healthz and the JSON API under /api/v1;"
              + " HTTPS with the coordinator's certificate beyond loopback; port 0 picks a free"
              + " one; off for none (default: "
              + DEFAULT_HTTP
              + ", skipped with a warning when taken).")
  private String httpListen;

  static final String DEFAULT_HTTP = "127.0.0.1:7071";

  @Option(
      names = "--hash-root",
      paramLabel = "DIR",
      description =
          "A directory under which hash jobs may read files; repeat for more. Never the data"
              + " dir, even under one (default: none, and hash jobs are refused).")
  private List<java.nio.file.Path> hashRoots;

  @Option(
      names = "--tls",
      paramLabel = "MODE",
      defaultValue = "auto",
      description =
          "auto or on: TLS and tokens on every address, loopback too (this user's weft commands"
              + " find the tokens by themselves there); off: plain text, only with --insecure"
              + " (default: ${DEFAULT-VALUE}).")
  private SecurityConfig.Tls tls;

  @Option(
      names = "--insecure",
      description =
          "Serve plain text without authentication: anyone who reaches the port (on loopback:"
              + " every local user) can run any command on every worker. Only where that is meant.")
  private boolean insecure;

  @Option(
      names = "--tls-cert",
      paramLabel = "FILE",
      description =
          "A PEM certificate chain (leaf first) to serve instead of the coordinator's own; with"
              + " --tls-key.")
  private java.nio.file.Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The PEM key of --tls-cert.")
  private java.nio.file.Path tlsKey;

  @Option(
      names = "--tls-client-ca",
      paramLabel = "FILE",
      description =
          "Require client certificates issued by these PEM CA certificates (mutual TLS), from"
              + " workers and clients alike.")
  private java.nio.file.Path tlsClientCa;

  @Option(
      names = "--no-token",
      description =
          "With --tls-client-ca: client certificates alone authenticate; no join token is needed.")
  private boolean noToken;

  @Option(
      names = "--tls-san",
      paramLabel = "NAME",
      description =
          "Another DNS name or IP address for the certificate the coordinator makes itself (one"
              + " that workers use to reach it: a NAT address, a DNS alias); repeat for more.")
  private List<String> tlsSans;

  @Option(
      names = "--socket",
      paramLabel = "PATH",
      description =
          "Also serve on this Unix socket, whose callers are known by their uid (no token):"
              + " this user gets admin, others only with --allow-uid; none for no socket"
              + " (default: DATA_DIR/coordinator.sock, mode 0600).")
  private String socket;

  @Option(
      names = "--allow-uid",
      paramLabel = "UID[:ROLE][+exec]",
      converter = UidGrantConverter.class,
      description =
          "Let local user UID in through the Unix socket with ROLE read, submit or admin (default"
              + " submit), +exec to submit exec jobs; makes the socket 0666 (the uid check is the"
              + " door), so its path must be reachable by that user. Repeat for more.")
  private List<UidGrant> allowUids;

  /** {@code --allow-uid}: a bad value says the form. */
  static final class UidGrantConverter implements ITypeConverter<UidGrant> {
    @Override
    public UidGrant convert(String value) {
      try {
        return UidGrant.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  @Override
  public Integer call() throws InterruptedException {
    CoordinatorConfig config =
        new CoordinatorConfig()
            .dataDir(dataDir != null ? dataDir : CoordinatorConfig.defaultDataDir())
            .listen(listen.host(), listen.port())
            .shmUpgrade(transport)
            .localWorkers(
                localWorkers,
                localTransport,
                localSlots,
                // Local workers load the same plugins: they run the tasks this one plans.
                WeftJvm.command(
                    plugins == null
                        ? List.of("worker")
                        : List.of("worker", "--plugins", plugins.toAbsolutePath().toString())));
    if (plugins != null) {
      dev.weft.kinds.PluginDir.Loaded loaded = PluginOption.load(plugins);
      config.kinds(loaded.kinds());
      PluginOption.print(spec.commandLine().getOut(), loaded);
      spec.commandLine().getOut().flush();
    }
    config
        .maxUnfinishedJobs(maxUnfinishedJobs)
        .maxQueuedTasks(maxQueuedTasks)
        .maxUnfinishedJobsPerOwner(maxUnfinishedJobsPerOwner)
        .maxQueuedTasksPerOwner(maxQueuedTasksPerOwner)
        .maxResultBytes(maxResultBytes)
        .maxCallsPerConnection(maxCallsPerConnection)
        .maxWatchesPerConnection(maxWatchesPerConnection);
    if (probeListen != null) {
      config.probeListen(probeListen.host(), probeListen.port());
    }
    if (httpListen == null) {
      Address http = Address.parse(DEFAULT_HTTP, true);
      config.httpListen(http.host(), http.port(), false);
    } else if (!httpListen.equals("off")) {
      Address http;
      try {
        http = Address.parse(httpListen, true);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--http-listen: " + e.getMessage() + ", or off");
      }
      config.httpListen(http.host(), http.port(), true);
    }
    if (hashRoots != null) {
      config.hashRoots(hashRoots);
    }
    if ("none".equals(socket)) {
      config.noSocket();
    } else if (socket != null) {
      if (socket.isBlank()) {
        throw CliException.usage("--socket needs a path, or none");
      }
      config.socket(java.nio.file.Path.of(socket));
    }
    if (allowUids != null) {
      config.allowUids(allowUids);
    }
    if (heartbeat != null) {
      config.heartbeatIntervalMs(heartbeat.toMillis());
    }
    if (lease != null) {
      config.leaseMs(lease.toMillis());
    }
    if (retention != null) {
      config.retention(retention);
    }
    if (preemptAfter != null) {
      if (preemptAfter.isZero()) {
        throw CliException.usage(
            "--preempt-after must be more than 0s (leave it out to never preempt)");
      }
      config.preemptAfterMs(preemptAfter.toMillis());
    }
    JournalOption.apply(config, journal, journalPasswordFile, System.getenv());
    FLYWAY_LOG.setLevel(java.util.logging.Level.WARNING);
    HIKARI_LOG.setLevel(java.util.logging.Level.WARNING);
    config.ownerWeights(ownerWeights(shares)).maxSubmitPriority(maxSubmitPriority);
    config.security(
        new SecurityConfig()
            .tls(tls)
            .insecure(insecure)
            .certificate(tlsCert, tlsKey)
            .clientCa(tlsClientCa)
            .tokenRequired(!noToken)
            .extraNames(tlsSans == null ? List.of() : tlsSans));
    try {
      config.conclude();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    if (leaderLease != null) {
      if (config.postgresJournal() == null) {
        throw CliException.usage("--leader-lease needs a PostgreSQL --journal");
      }
      try {
        config.leaderLeaseMs(leaderLease.toMillis());
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--leader-lease: " + e.getMessage());
      }
    }
    if (advertise != null) {
      if (config.postgresJournal() == null) {
        throw CliException.usage("--advertise needs a PostgreSQL --journal");
      }
      try {
        config.advertise(Address.parse(advertise, false).toString());
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--advertise: " + e.getMessage());
      }
    }
    if (config.postgresJournal() != null) {
      return standByAndLead(config);
    }
    Coordinator coordinator = startOrExplain(config, null);
    announce(coordinator, config);
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
    return stopped(hook, coordinator.id());
  }

  /**
   * With a PostgreSQL journal: stands by (refusing calls with the leader's address) until this
   * coordinator wins the lead, leads until it stops or loses the lead, and stands by again after a
   * loss.
   */
  private int standByAndLead(CoordinatorConfig config) throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    ServerSecurity security;
    try {
      security = ServerSecurity.prepare(config.security(), config.dataDir(), config.host());
    } catch (IOException e) {
      throw CliException.usage(
          "cannot prepare the TLS keys and join token under "
              + config.dataDir()
              + ": "
              + rootMessage(e));
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    LeaderElection election;
    try {
      election = LeaderElection.connect(config);
    } catch (JournalUnavailableException e) {
      throw CliException.usage(e.getMessage());
    }
    SharedSecurityFiles shared =
        new SharedSecurityFiles(config.dataDir(), election::openConnection);
    try {
      if (shared.adopt()) {
        security = ServerSecurity.prepare(config.security(), config.dataDir(), config.host());
      }
    } catch (IOException | SQLException | IllegalArgumentException e) {
      election.close();
      shared.close();
      throw CliException.usage(
          "cannot share the security files of "
              + config.dataDir()
              + " through the journal at "
              + config.postgresJournal()
              + ": "
              + rootMessage(e));
    }
    AtomicBoolean leadingNow = new AtomicBoolean();
    ScheduledExecutorService sync =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("weft-shared-files").daemon(true).unstarted(r));
    sync.scheduleWithFixedDelay(() -> syncShared(shared, leadingNow.get()), 1, 1, TimeUnit.SECONDS);
    AtomicBoolean stopping = new AtomicBoolean();
    AtomicReference<Coordinator> leading = new AtomicReference<>();
    Runnable stop =
        () -> {
          stopping.set(true);
          election.close();
          Coordinator current = leading.get();
          if (current != null) {
            current.shutdown();
          }
        };
    Thread hook =
        new Thread(
            () -> {
              stop.run();
              Coordinator current = leading.get();
              if (current != null) {
                current.close();
              }
            },
            "weft-coordinator-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    String name = HostIdentity.localHostname() + "/" + ProcessHandle.current().pid();
    String lastId = "";
    try (election;
        shared;
        sync;
        StopSignals _ =
            StopSignals.handle(
                stop, () -> Runtime.getRuntime().halt(ExitCodes.INTERRUPTED), "INT", "TERM")) {
      while (!stopping.get()) {
        StandbyServer standby;
        try {
          standby = StandbyServer.start(config, security, election::leaderHint);
        } catch (IOException e) {
          throw CliException.usage(
              rootMessage(e) + "; is another coordinator running? Choose another with --listen");
        }
        LeaderElection.Leadership lead;
        // This user's commands on this host find the (shared) admin token by the standby's port
        // too, and are then told where the leader is.
        boolean registered =
            security.tls()
                && hasAdminToken(security)
                && LocalCoordinators.ofThisUser().register(standby.port(), config.dataDir(), null);
        try {
          if (config.port() == 0) {
            config.listen(config.host(), standby.port()); // the same port when it leads
          }
          Address bound = new Address(listen.host(), standby.port());
          String advertised =
              config.advertise() != null ? config.advertise() : joinAddress(bound).toString();
          String hint = election.leaderHint();
          out.printf(
              "weft coordinator standing by on %s for the lead of the journal at %s%s%n",
              bound,
              config.postgresJournal(),
              hint == null ? "" : " (the leader is at " + hint + ")");
          out.flush();
          lead = election.await(advertised, name);
        } finally {
          if (registered) {
            LocalCoordinators.ofThisUser().unregister(standby.port());
          }
          standby.close();
        }
        if (lead == null) {
          break;
        }
        // The files as the last leader left them (a token it just made), before serving.
        try {
          sync.submit(() -> syncShared(shared, false)).get();
        } catch (ExecutionException e) {
          throw new IllegalStateException(e.getCause());
        }
        Coordinator coordinator;
        try {
          coordinator = Coordinator.start(config, lead);
        } catch (JournalUnavailableException e) {
          // The database went away as this coordinator took the lead: stand by again.
          lead.release();
          spec.commandLine().getErr().println("weft coordinator: " + e.getMessage());
          spec.commandLine().getErr().flush();
          continue;
        } catch (IOException | RuntimeException e) {
          lead.release();
          throw explain(e);
        }
        leadingNow.set(true);
        leading.set(coordinator);
        if (stopping.get()) {
          coordinator.shutdown();
        }
        lastId = coordinator.id();
        announce(coordinator, config);
        out.printf(
            "leading:        the journal at %s (epoch %d)%n",
            config.postgresJournal(), lead.epoch());
        out.flush();
        coordinator.awaitTermination();
        leadingNow.set(false);
        leading.set(null);
        String lost = coordinator.lostLead();
        if (lost == null) {
          break;
        }
        out.printf("weft coordinator %s lost the lead (%s)%n", coordinator.id(), lost);
        out.flush();
      }
    }
    return stopped(hook, lastId);
  }

  /**
   * The leader writes back its changed security files; a standby takes them. A database that does
   * not answer now is tried again at the next tick.
   */
  private static void syncShared(SharedSecurityFiles shared, boolean leading) {
    try {
      if (leading) {
        shared.push();
      } else {
        shared.pull();
      }
    } catch (IOException | SQLException e) {
      System.getLogger(CoordinatorCommand.class.getName())
          .log(
              System.Logger.Level.WARNING,
              "cannot sync the security files with the journal (trying again): {0}",
              rootMessage(e));
    }
  }

  private static boolean hasAdminToken(ServerSecurity security) {
    try {
      return security.adminToken().isPresent();
    } catch (IOException e) {
      throw CliException.usage("cannot read the admin token: " + rootMessage(e));
    }
  }

  /** Starts the coordinator, or says plainly why it cannot. */
  private Coordinator startOrExplain(
      CoordinatorConfig config, LeaderElection.Leadership leadership) {
    try {
      return Coordinator.start(config, leadership);
    } catch (IOException | RuntimeException e) {
      throw explain(e);
    }
  }

  /** Why a coordinator could not start, as the user should read it. */
  private CliException explain(Exception e) {
    return switch (e) {
      // Each names what failed (the directory, the database, the socket, the address, a --tls-*
      // file) and what to do.
      case DataDirException d -> CliException.usage(d.getMessage());
      case JournalUnavailableException j -> CliException.usage(j.getMessage());
      case UnixSocketException u -> CliException.usage(u.getMessage());
      case HttpListenException h -> CliException.usage(h.getMessage());
      case IllegalArgumentException i -> CliException.usage(i.getMessage());
      case IOException io ->
          CliException.usage(
              "cannot listen on "
                  + listen
                  + " ("
                  + rootMessage(io)
                  + "); is another coordinator running? Choose another with --listen HOST:PORT");
      case RuntimeException r -> throw r;
      default -> throw new IllegalStateException(e);
    };
  }

  private int stopped(Thread hook, String id) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      return ExitCodes.OK; // the JVM is already exiting: the hook is what stopped the coordinator
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println("weft coordinator " + id + " stopped");
    out.flush();
    return ExitCodes.OK;
  }

  /** What a user needs to know once it serves: where, how to join, the socket, HTTP. */
  private void announce(Coordinator coordinator, CoordinatorConfig config) {
    Address bound = new Address(listen.host(), coordinator.port());
    PrintWriter out = spec.commandLine().getOut();
    out.printf("weft coordinator %s listening on %s%n", coordinator.id(), bound);
    printJoin(out, coordinator, joinAddress(bound), config.security().loopback());
    if (coordinator.socketPath() != null) {
      out.printf(
          "local socket:   %s (this user: admin%s; weft COMMAND --coordinator unix:%s)%n",
          coordinator.socketPath(),
          allowUids == null || allowUids.isEmpty()
              ? ", nobody else"
              : "; --allow-uid " + allowUids.stream().map(UidGrant::toString).toList(),
          coordinator.socketPath());
    }
    if (coordinator.httpPort() >= 0) {
      String host =
          config.httpHost().contains(":") ? "[" + config.httpHost() + "]" : config.httpHost();
      out.printf(
          "http:           %s://%s:%d (/metrics, /healthz, /api/v1; the dashboard: weft dashboard)%n",
          coordinator.httpTls() ? "https" : "http", host, coordinator.httpPort());
    }
    out.flush();
  }

  /** How workers (and clients) join, with the token when there is one. */
  private void printJoin(PrintWriter out, Coordinator coordinator, Address join, boolean loopback) {
    ServerSecurity security = coordinator.security();
    if (!security.tls()) {
      if (insecure && !loopback) {
        PrintWriter err = spec.commandLine().getErr();
        err.println(
            "WARNING: serving plain text without authentication on "
                + listen
                + " (--insecure): anyone who can reach this port can submit jobs, including exec"
                + " jobs that run any command on every worker");
        err.flush();
      }
      out.printf("join a worker:  weft worker --join %s%n", join);
      return;
    }
    Optional<String> token;
    try {
      token = security.joinToken();
    } catch (IOException e) {
      coordinator.close();
      throw CliException.usage("cannot read the join token: " + rootMessage(e));
    }
    out.printf("security:       %s%n", security.description());
    out.printf(
        "join a worker:  %s%n",
        new JoinTokenFiles.Join(join.toString(), token, security.clientCertificates())
            .workerCommand());
    token.ifPresent(
        t ->
            out.printf(
                "clients:        this user's weft commands on this host find their admin token by"
                    + " themselves; for others: weft token create NAME --role submit%n"));
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

  private static java.util.Map<String, Double> ownerWeights(List<String> shares) {
    java.util.Map<String, Double> weights = new java.util.HashMap<>();
    for (String share : shares) {
      int eq = share.lastIndexOf('=');
      double weight;
      try {
        weight = eq > 0 ? Double.parseDouble(share.substring(eq + 1)) : Double.NaN;
      } catch (NumberFormatException e) {
        weight = Double.NaN;
      }
      if (!(weight > 0 && weight <= 1_000_000)) {
        throw CliException.usage(
            "--share takes OWNER=WEIGHT with a weight above 0 and at most 1000000 (e.g. alice=2),"
                + " got '"
                + share
                + "'");
      }
      if (weights.put(share.substring(0, eq), weight) != null) {
        throw CliException.usage("--share names owner '" + share.substring(0, eq) + "' twice");
      }
    }
    return weights;
  }
}
