package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskFailedException;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Credit;
import dev.weft.v1.Hello;
import dev.weft.v1.HostIdentity;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskResults;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A real coordinator on the in-process transport, with one worker that runs every task with the
 * real kinds, each on a virtual thread (never on a transport thread), and stops it on a cancel: for
 * the tests of other modules, such as the Java client's contract tests. In plain text, where the
 * in-process caller is the coordinator's admin.
 */
public final class InProcessCluster implements AutoCloseable {
  private static final JobKinds KINDS = JobKinds.load();

  private final String name;
  private final Coordinator coordinator;
  private final ManagedChannel workerChannel;
  private final ExecutorService tasks = Executors.newVirtualThreadPerTaskExecutor();
  private final Map<Long, Attempt> running = new ConcurrentHashMap<>();
  private final StreamObserver<WorkerMessage> out;

  private InProcessCluster(Path dataDir, int slots, String name) throws IOException {
    this.name = name;
    coordinator =
        Coordinator.start(
            new CoordinatorConfig().heartbeatIntervalMs(100).leaseMs(2_000).dataDir(dataDir),
            InProcessServerBuilder.forName(name),
            name);
    workerChannel = InProcessChannelBuilder.forName(name).build();
    out = WorkerServiceGrpc.newStub(workerChannel).attach(new Inbox());
    send(
        WorkerMessage.newBuilder()
            .setHello(
                Hello.newBuilder()
                    .setWorkerId("in-process")
                    .setPid(ProcessHandle.current().pid())
                    .setSlots(slots)
                    .addAllKinds(KINDS.names())
                    .addTransports("grpc")
                    .setHost(HostIdentity.newBuilder().setHostname("in-process")))
            .build());
    send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setSlots(slots)).build());
  }

  /** Starts a coordinator keeping its journal in {@code dataDir}, and a worker of {@code slots}. */
  public static InProcessCluster start(Path dataDir, int slots)
      throws IOException, InterruptedException {
    return start(dataDir, slots, InProcessServerBuilder.generateName());
  }

  /**
   * As {@link #start(Path, int)}, under {@code name}: a coordinator started again with the name and
   * data directory of one that closed is, to its clients, that coordinator come back.
   */
  public static InProcessCluster start(Path dataDir, int slots, String name)
      throws IOException, InterruptedException {
    InProcessCluster cluster = new InProcessCluster(dataDir, slots, name);
    if (!cluster.coordinator.awaitWorkers(1, Duration.ofSeconds(10))) {
      cluster.close();
      throw new IllegalStateException("the in-process worker did not attach within 10s");
    }
    return cluster;
  }

  /** The in-process server's name, for {@code InProcessChannelBuilder.forName}. */
  public String name() {
    return name;
  }

  /** The coordinator itself, for what its own API tells (workers attached, say). */
  public Coordinator coordinator() {
    return coordinator;
  }

  private boolean closed; // guarded by this

  /** Sends to the coordinator; a result of a task stopped by close() has no stream to go to. */
  private synchronized void send(WorkerMessage message) {
    if (!closed) {
      out.onNext(message);
    }
  }

  /** What the coordinator sends the worker; runs on a transport thread, so it only hands off. */
  private final class Inbox implements StreamObserver<CoordinatorMessage> {
    @Override
    public void onNext(CoordinatorMessage message) {
      if (message.hasAssignments()) {
        for (TaskAssignment task : message.getAssignments().getTasksList()) {
          Attempt attempt = new Attempt(task);
          running.put(task.getAttemptId(), attempt);
          tasks.execute(attempt);
        }
      } else if (message.hasCancel()) {
        for (long id : message.getCancel().getAttemptIdsList()) {
          Attempt attempt = running.get(id);
          if (attempt != null) {
            attempt.cancel();
          }
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      running.values().forEach(Attempt::cancel);
    }

    @Override
    public void onCompleted() {
      running.values().forEach(Attempt::cancel);
    }
  }

  /** One task attempt, run as the real worker runs it (TaskSlots), with fewer features. */
  private final class Attempt implements Runnable, TaskContext {
    private final TaskAssignment task;
    private final List<Runnable> onCancel = new ArrayList<>();
    private boolean cancelled; // guarded by this
    private Integer exitCode; // guarded by this
    private Thread thread; // guarded by this

    Attempt(TaskAssignment task) {
      this.task = task;
    }

    @Override
    public void run() {
      synchronized (this) {
        thread = Thread.currentThread();
      }
      TaskResult result = execute();
      running.remove(task.getAttemptId());
      send(
          WorkerMessage.newBuilder()
              .setResults(TaskResults.newBuilder().addResults(result))
              .build());
    }

    private TaskResult execute() {
      TaskResult.Builder result = TaskResult.newBuilder().setAttemptId(task.getAttemptId());
      try {
        JobKind kind =
            KINDS
                .find(task.getKind())
                .orElseThrow(() -> new IllegalArgumentException("no kind " + task.getKind()));
        ByteString output = kind.run(task.getInput(), this);
        if (isCancelled()) {
          return stopped(result);
        }
        result.setOk(true).setOutput(output);
      } catch (InterruptedException e) {
        // The cancel's interrupt (TaskCancelledException is one): the attempt ends as stopped and
        // its thread ends with it.
        return stopped(result);
      } catch (TaskFailedException e) {
        if (isCancelled()) {
          return stopped(result);
        }
        result.setError(e.getMessage()).setApplicationError(true).setOutput(e.output());
      } catch (Exception e) {
        if (isCancelled()) {
          return stopped(result);
        }
        result.setError(e.toString());
      }
      return withExitCode(result);
    }

    private TaskResult stopped(TaskResult.Builder result) {
      return withExitCode(
          result.setStop(StopOutcome.STOPPED).setCancelled(true).setError("cancelled"));
    }

    private synchronized TaskResult withExitCode(TaskResult.Builder result) {
      if (exitCode != null) {
        result.setExitCode(exitCode);
      }
      return result.build();
    }

    void cancel() {
      List<Runnable> actions;
      synchronized (this) {
        if (cancelled) {
          return;
        }
        cancelled = true;
        actions = List.copyOf(onCancel);
        if (thread != null) {
          thread.interrupt();
        }
      }
      actions.forEach(Runnable::run);
    }

    @Override
    public synchronized boolean isCancelled() {
      return cancelled;
    }

    @Override
    public void onCancel(Runnable action) {
      boolean now;
      synchronized (this) {
        now = cancelled;
        if (!now) {
          onCancel.add(action);
        }
      }
      if (now) {
        action.run();
      }
    }

    @Override
    public long graceMs() {
      return task.getGraceMs();
    }

    @Override
    public synchronized void processExited(int code) {
      exitCode = code;
    }
  }

  @Override
  public void close() throws InterruptedException {
    running.values().forEach(Attempt::cancel);
    synchronized (this) {
      closed = true;
      out.onCompleted();
    }
    workerChannel.shutdownNow();
    workerChannel.awaitTermination(5, TimeUnit.SECONDS);
    tasks.shutdownNow();
    tasks.awaitTermination(10, TimeUnit.SECONDS);
    coordinator.close();
  }
}
