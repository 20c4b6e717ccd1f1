package dev.weft.cli;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.TempDataDir;
import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A coordinator in this JVM and worker processes on this host, for {@code weft demo}. Closing it
 * stops every worker (SIGTERM, then SIGKILL after a deadline) and the coordinator; a shutdown hook
 * does the same on Ctrl-C, and each worker also exits by itself if this process dies. The
 * coordinator journals into a temporary data dir of its own (removed at close), so the demo runs
 * beside a user's coordinator and never touches its jobs.
 */
final class DemoCluster implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(DemoCluster.class.getName());
  private static final Duration STOP_DEADLINE = Duration.ofSeconds(10);
  private static final int OUTPUT_LINES_KEPT = 20;

  private final Coordinator coordinator;
  private final TempDataDir dataDir;
  private final List<Process> workers = new ArrayList<>();
  private final List<Deque<String>> outputs = new ArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Thread hook = new Thread(this::close, "weft-demo-cleanup");

  private DemoCluster(Coordinator coordinator, TempDataDir dataDir) {
    this.coordinator = coordinator;
    this.dataDir = dataDir;
    Runtime.getRuntime().addShutdownHook(hook);
  }

  static DemoCluster start(int workerCount, int slots) throws IOException {
    TempDataDir dataDir = TempDataDir.create("weft-demo-");
    Coordinator coordinator;
    try {
      coordinator =
          Coordinator.start(
              new CoordinatorConfig().listen("127.0.0.1", 0).dataDir(dataDir.path()).conclude());
    } catch (IOException | RuntimeException e) {
      dataDir.close();
      throw e;
    }
    DemoCluster cluster = new DemoCluster(coordinator, dataDir);
    try {
      for (int i = 1; i <= workerCount; i++) {
        cluster.spawnWorker("demo-worker-" + i, slots);
      }
    } catch (IOException | RuntimeException e) {
      cluster.close();
      throw e;
    }
    return cluster;
  }

  private void spawnWorker(String id, int slots) throws IOException {
    List<String> command =
        WeftJvm.command(
            List.of(
                "worker",
                "--join",
                address().toString(),
                "--parent-pid",
                Long.toString(ProcessHandle.current().pid()),
                "--slots",
                Integer.toString(slots),
                "--id",
                id));
    ProcessBuilder builder = new ProcessBuilder(command);
    // In the environment, not on the command line, which other users can read.
    builder.environment().put("WEFT_TOKEN", coordinator.security().joinToken().orElseThrow());
    Process worker =
        builder
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    workers.add(worker);
    // Kept in memory, not in a file: nothing is left behind even if this JVM is killed.
    Deque<String> output = new ArrayDeque<>();
    outputs.add(output);
    Thread.ofVirtual().name("weft-demo-output-" + id).start(() -> keepTail(worker, output));
  }

  private static void keepTail(Process worker, Deque<String> output) {
    try (BufferedReader lines =
        new BufferedReader(
            new InputStreamReader(worker.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = lines.readLine(); line != null; line = lines.readLine()) {
        synchronized (output) {
          if (output.size() == OUTPUT_LINES_KEPT) {
            output.removeFirst();
          }
          output.addLast(line);
        }
      }
    } catch (IOException e) {
      synchronized (output) {
        output.addLast("(cannot read more of its output: " + e.getMessage() + ")");
      }
    }
  }

  Address address() {
    return new Address("127.0.0.1", coordinator.port());
  }

  /** A client of this cluster: the coordinator's admin token, which also pins its certificate. */
  CoordinatorClient client() throws IOException {
    return new CoordinatorClient(
        address(),
        new ClientSecurity().token(coordinator.security().adminToken().orElseThrow()).conclude());
  }

  String coordinatorId() {
    return coordinator.id();
  }

  List<Long> workerPids() {
    return workers.stream().map(Process::pid).toList();
  }

  boolean awaitWorkers(Duration timeout) throws InterruptedException {
    return coordinator.awaitWorkers(workers.size(), timeout);
  }

  /** The last lines each worker printed, to explain why it did not attach. */
  String workerOutput() {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < workers.size(); i++) {
      Process worker = workers.get(i);
      out.append("--- worker pid ")
          .append(worker.pid())
          .append(worker.isAlive() ? " (running)" : " (exited " + worker.exitValue() + ")")
          .append(":\n");
      Deque<String> output = outputs.get(i);
      synchronized (output) {
        output.forEach(line -> out.append("  ").append(line).append('\n'));
      }
    }
    return out.toString();
  }

  private void removeDataDir() {
    try {
      dataDir.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove the demo's data dir " + dataDir, e);
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      workers.forEach(Process::destroy);
      for (Process worker : workers) {
        if (!worker.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
          worker.destroyForcibly();
          worker.waitFor(STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        }
      }
    } catch (InterruptedException e) {
      workers.forEach(Process::destroyForcibly);
      Thread.currentThread().interrupt();
    } finally {
      coordinator.close();
      removeDataDir();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // The JVM is exiting and this is the hook running: nothing left to unregister.
      }
    }
  }
}
