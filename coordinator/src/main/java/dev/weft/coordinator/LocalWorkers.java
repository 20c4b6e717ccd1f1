package dev.weft.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.local.FrameReader;
import dev.weft.v1.WorkerMessage;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Workers this coordinator starts on its own host and keeps running: each is a child process
 * reached over its stdin/stdout (optionally upgraded to shared memory), or one that attaches to our
 * port over gRPC. A child that exits is started again after a pause, until the coordinator stops.
 */
final class LocalWorkers implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(LocalWorkers.class.getName());
  private static final long RESTART_PAUSE_MS = 1_000;
  private static final long STOP_WAIT_MS = 5_000;
  // Read by `weft worker` (--token, --tls-server-name, --tls-ca, --tls-cert, --tls-key).
  private static final String WORKER_TOKEN_ENV = "WEFT_TOKEN";
  private static final String WORKER_SERVER_NAME_ENV = "WEFT_TLS_SERVER_NAME";
  private static final List<String> WORKER_TLS_ENV =
      List.of(
          WORKER_TOKEN_ENV, WORKER_SERVER_NAME_ENV, "WEFT_TLS_CA", "WEFT_TLS_CERT", "WEFT_TLS_KEY");

  private final CoordinatorConfig config;
  private final Conductor conductor;
  private final Scheduler scheduler;
  private final ShmUpgradeOffer upgrade;
  private final int port;
  private final ServerSecurity security;
  private final List<Child> children = new ArrayList<>();
  private boolean stopping;

  /**
   * @param upgrade moves pipe workers to shared memory; null keeps them on their pipes
   * @param port our port, for workers that attach over gRPC
   * @param security the token (and the name to check) that workers attaching over gRPC need
   */
  LocalWorkers(
      CoordinatorConfig config,
      Conductor conductor,
      Scheduler scheduler,
      ShmUpgradeOffer upgrade,
      int port,
      ServerSecurity security) {
    this.config = config;
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.upgrade = upgrade;
    this.port = port;
    this.security = security;
  }

  synchronized void start() throws IOException {
    for (int i = 1; i <= config.localWorkers(); i++) {
      Child child = new Child("local-" + i);
      children.add(child);
      child.spawn();
    }
  }

  private List<String> command(String id) {
    List<String> command = new ArrayList<>(config.workerCommand());
    command.addAll(
        List.of("--id", id, "--parent-pid", String.valueOf(ProcessHandle.current().pid())));
    if (config.localWorkerSlots() > 0) {
      command.addAll(List.of("--slots", String.valueOf(config.localWorkerSlots())));
    }
    switch (config.localTransport()) {
      case GRPC -> command.addAll(List.of("--join", joinAddress(), "--transport", "grpc"));
      case SHM -> command.addAll(List.of("--stdio", "--transport", "auto"));
      case PIPE -> command.addAll(List.of("--stdio", "--transport", "grpc"));
    }
    return command;
  }

  /** Our address as a worker on this host reaches it: loopback unless we listen elsewhere. */
  private String joinAddress() {
    String host = joinHost();
    return (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
  }

  private String joinHost() {
    String host = config.host();
    boolean wildcard = host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
    return wildcard ? "127.0.0.1" : host;
  }

  /** One supervised worker process. */
  private final class Child {
    private final String id;
    private Process process;
    private PipeWorkerLink link;

    Child(String id) {
      this.id = id;
    }

    void spawn() throws IOException {
      ProcessBuilder builder =
          new ProcessBuilder(command(id)).redirectError(ProcessBuilder.Redirect.INHERIT);
      // The token goes by environment, not argv, where ps would show it. TLS settings the user's
      // shell exported are dropped: the coordinator gives its workers all they need.
      WORKER_TLS_ENV.forEach(builder.environment()::remove);
      if (config.localTransport() == Transport.GRPC) {
        security.localToken().ifPresent(t -> builder.environment().put(WORKER_TOKEN_ENV, t));
        String serverName = security.serverNameFor(joinHost());
        if (serverName != null) {
          builder.environment().put(WORKER_SERVER_NAME_ENV, serverName);
        }
      }
      if (config.localTransport() == Transport.GRPC) {
        // Its banner would land in our stdout, which may be a --json answer; its logs go to stderr.
        builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
      }
      process = builder.start();
      LOG.log(System.Logger.Level.INFO, "started local worker {0} (pid {1})", id, process.pid());
      if (config.localTransport() == Transport.GRPC) {
        process.getOutputStream().close();
        process.onExit().thenRun(this::exited);
        return;
      }
      link = new PipeWorkerLink(id, new BufferedOutputStream(process.getOutputStream(), 1 << 16));
      WorkerAdapter adapter = new WorkerAdapter(conductor, scheduler, link, upgrade);
      Thread.ofPlatform().name("weft-pipe-" + id).daemon(true).start(() -> read(adapter));
    }

    private void read(WorkerAdapter adapter) {
      FrameReader reader =
          new FrameReader(
              new BufferedInputStream(process.getInputStream(), 1 << 16),
              LinkFrames.MAX_MESSAGE_BYTES,
              LinkFrames.MAX_TYPE);
      String reason = "its pipe closed";
      try {
        while (reader.read((type, payload) -> adapter.onMessage(parse(payload)))) {
          // each frame is handled inside read
        }
      } catch (IOException | IllegalArgumentException e) {
        reason = "its pipe failed: " + e.getMessage();
        link.close(reason);
      }
      adapter.onClosed(reason);
      exited();
    }

    private void exited() {
      try {
        if (!process.waitFor(STOP_WAIT_MS, TimeUnit.MILLISECONDS)) {
          process.destroy();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      synchronized (LocalWorkers.this) {
        if (stopping) {
          return;
        }
      }
      LOG.log(
          System.Logger.Level.WARNING,
          "local worker {0} ended; starting it again in {1} ms",
          id,
          RESTART_PAUSE_MS);
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  TimeUnit.MILLISECONDS.sleep(RESTART_PAUSE_MS);
                  synchronized (LocalWorkers.this) {
                    if (!stopping) {
                      spawn();
                    }
                  }
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } catch (IOException e) {
                  LOG.log(System.Logger.Level.ERROR, "cannot restart local worker " + id, e);
                }
              });
    }

    void stop() {
      if (link != null) {
        link.close("the coordinator is stopping");
      }
    }

    void await(long deadlineNanos) throws InterruptedException {
      long left = deadlineNanos - System.nanoTime();
      if (!process.waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
        process.destroy();
        if (!process.waitFor(1, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(1, TimeUnit.SECONDS);
        }
      }
    }
  }

  private static WorkerMessage parse(java.nio.ByteBuffer payload) {
    try {
      return WorkerMessage.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException(
          "unreadable frame from a local worker: " + e.getMessage(), e);
    }
  }

  /** From now on a child that exits stays down. */
  synchronized void stopRestarting() {
    stopping = true;
  }

  /** Tells every child to leave (its stdin closes), then waits, then kills what is left. */
  @Override
  public void close() {
    List<Child> all;
    synchronized (this) {
      stopping = true;
      all = List.copyOf(children);
    }
    all.forEach(Child::stop);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_WAIT_MS);
    try {
      for (Child child : all) {
        child.await(deadline);
      }
    } catch (InterruptedException e) {
      all.forEach(child -> child.process.destroyForcibly());
      Thread.currentThread().interrupt();
    }
  }
}
