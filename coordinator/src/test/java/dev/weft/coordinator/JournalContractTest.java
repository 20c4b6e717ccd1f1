package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.HashParams;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.SumParams;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.TaskResult;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal's contract, run against each back-end (SQLite in {@link JournalTest}, PostgreSQL in
 * {@link PostgresJournalTest}): a coordinator started on the journal of one that stopped resumes
 * its unfinished jobs without running recorded tasks again, keeps its finished jobs and retries,
 * prunes them by age and count, and refuses a data dir another coordinator holds; a job is durable
 * before its submitter hears of it; a journal that cannot be written refuses jobs and catches up; a
 * backlog holds dispatch up. A crash is simulated by writing the journal as a coordinator would
 * have up to that moment; the cli module's RestartEndToEndTest SIGKILLs a real one.
 */
abstract class JournalContractTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final JobKinds KINDS = JobKinds.load();

  @TempDir protected Path dataDir;
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  /** A coordinator on the test's data dir, and a client of it. */
  private final class Node implements AutoCloseable {
    final Coordinator coordinator;
    final ManagedChannel channel;
    final List<TestWorker> workers = new ArrayList<>();

    Node(CoordinatorConfig config) throws Exception {
      String name = InProcessServerBuilder.generateName();
      coordinator =
          Coordinator.start(
              journalOn(config.heartbeatIntervalMs(100).leaseMs(1_000).dataDir(dataDir)),
              InProcessServerBuilder.forName(name),
              name);
      channel = InProcessChannelBuilder.forName(name).build();
      open.add(this);
    }

    JobServiceGrpc.JobServiceBlockingStub jobs() {
      return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    Job get(String id) {
      return jobs().getJob(GetJobRequest.newBuilder().setId(id).build());
    }

    Job submit(JobSpec spec) {
      return jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
    }

    Job await(String id, JobState state) {
      awaitTrue(() -> get(id).getState() == state, "job " + id + " to reach " + state);
      return get(id);
    }

    TestWorker worker(String id, int slots, Set<Integer> ran) {
      TestWorker worker =
          new TestWorker(
              channel,
              id,
              slots,
              List.copyOf(KINDS.names()),
              ran == null
                  ? null
                  : task -> {
                    ran.add(task.getTask());
                    return JobServiceTest.run(task);
                  });
      workers.add(worker);
      return worker;
    }

    /** Detaches a worker as a crashed one would, so its tasks go back to the queue. */
    void crash(TestWorker worker) {
      workers.remove(worker);
      worker.close();
    }

    @Override
    public void close() {
      open.remove(this);
      workers.forEach(TestWorker::close);
      channel.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while closing the channel", e);
      } finally {
        coordinator.close();
      }
    }
  }

  private static JobSpec sum(long to, int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(1).setTo(to))
        .setTasks(tasks)
        .build();
  }

  /** What a worker returns for task {@code task} of {@code spec}. */
  private static ByteString output(JobSpec spec, int task) throws Exception {
    TaskPlan plan = KINDS.kindOf(spec).plan(spec);
    TaskResult result =
        JobServiceTest.run(
            TaskAssignment.newBuilder()
                .setKind(JobKinds.kindName(spec))
                .setTask(task)
                .setInput(plan.input(task))
                .build());
    assertTrue(result.getOk(), result.getError());
    return result.getOutput();
  }

  // ---- what each back-end provides ----

  /** {@code config} with this back-end's journal (the data dir is set already). */
  abstract CoordinatorConfig journalOn(CoordinatorConfig config);

  /** This back-end's journal, opened on the test's data dir and database but not started. */
  abstract Journal openJournal(Duration retention, int keepFinished) throws Exception;

  /** Starts writing {@code journal} (one {@link #openJournal} returned). */
  abstract void startJournal(
      Journal journal, Runnable onCaughtUp, BiConsumer<String, String> onSetAside);

  /** The backlog bound beyond which the journal is behind. */
  abstract long maxBacklogBytes();

  /** A second connection to the journal's tables, as a reader after a crash would open. */
  abstract Connection reader() throws Exception;

  /** Makes every commit of the journal fail or wait until the returned handle is closed. */
  abstract AutoCloseable refuseWrites() throws Exception;

  /** Makes every insert of a result row of job {@code jobId} fail with "poisoned by the test". */
  abstract void poisonResultsOf(String jobId) throws Exception;

  /** The journal's class, whose logger says what could not be written. */
  abstract Class<? extends Journal> journalClass();

  /** A journal as a coordinator killed at this point would have left it. */
  private Journal journal() throws Exception {
    Journal journal = openJournal(Duration.ofDays(7), 10_000);
    startJournal(journal, () -> {}, (id, why) -> {});
    return journal;
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    Await.until(condition, what, WAIT);
  }

  @Test
  void anUnfinishedJobResumesWithoutRunningItsRecordedTasksAgain() throws Exception {
    JobSpec spec = sum(1_000_000, 10);
    try (Journal journal = journal()) {
      journal.submitted("jresumed", spec, 10, System.currentTimeMillis() - 1_000);
      journal.started("jresumed", System.currentTimeMillis() - 900);
      for (int task : List.of(0, 3, 4, 9)) {
        journal.succeeded("jresumed", task, output(spec, task));
      }
    }

    Node node = new Node(new CoordinatorConfig());
    Job resumed = node.get("jresumed");
    assertEquals(JobState.RUNNING, resumed.getState());
    assertEquals(4, resumed.getTasksDone());
    Set<Integer> ran = ConcurrentHashMap.newKeySet();
    node.worker("w1", 2, ran);
    Job done = node.await("jresumed", JobState.SUCCEEDED);
    assertEquals("500000500000", done.getResult().getSum().getSum());
    assertEquals(Set.of(1, 2, 5, 6, 7, 8), ran);
    assertEquals(10, done.getTasksDone());
  }

  @Test
  void aJobMovedToAnotherPriorityClassStaysThereAfterARestart() throws Exception {
    Node first = new Node(new CoordinatorConfig());
    String id = first.submit(sum(1_000, 4)).getId();
    first
        .jobs()
        .setJobPriority(
            dev.weft.v1.SetJobPriorityRequest.newBuilder().setId(id).setPriority(7).build());
    assertEquals(7, first.get(id).getSpec().getPriority());
    first.close();

    Node second = new Node(new CoordinatorConfig());
    assertEquals(7, second.get(id).getSpec().getPriority());
    second.worker("w", 2, new java.util.HashSet<>());
    assertEquals("500500", second.await(id, JobState.SUCCEEDED).getResult().getSum().getSum());
  }

  @Test
  void jobsSurviveAStopAndStartWithTheirIdsAndResults() throws Exception {
    Node first = new Node(new CoordinatorConfig());
    TestWorker holder = first.worker("holder", 2, null);
    Job finished = first.submit(sum(100, 1));
    holder.answer(JobServiceTest.run(holder.nextTask(WAIT)));
    first.await(finished.getId(), JobState.SUCCEEDED);
    Job unfinished = first.submit(sum(1_000, 4));
    TaskAssignment a = holder.nextTask(WAIT);
    TaskAssignment b = holder.nextTask(WAIT);
    holder.answer(JobServiceTest.run(a));
    awaitTrue(() -> first.get(unfinished.getId()).getTasksDone() == 1, "one task to be done");
    first.crash(holder);
    first.close();

    Node second = new Node(new CoordinatorConfig());
    Job kept = second.get(finished.getId());
    assertEquals(JobState.SUCCEEDED, kept.getState());
    assertEquals("5050", kept.getResult().getSum().getSum());
    assertEquals(
        List.of(unfinished.getId(), finished.getId()),
        second.jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsList().stream()
            .map(Job::getId)
            .toList());
    Set<Integer> ran = ConcurrentHashMap.newKeySet();
    second.worker("w2", 2, ran);
    Job done = second.await(unfinished.getId(), JobState.SUCCEEDED);
    assertEquals("500500", done.getResult().getSum().getSum());
    assertFalse(ran.contains(a.getTask()), "task " + a.getTask() + " ran again: " + ran);
    assertTrue(ran.contains(b.getTask()), "task " + b.getTask() + " never ran: " + ran);
    assertEquals(3, ran.size());
  }

  @Test
  void aTaskThatFailedForGoodStaysFailedAfterARestart() throws Exception {
    JobSpec spec = sum(100, 2);
    try (Journal journal = journal()) {
      journal.submitted("jfailed", spec, 2, System.currentTimeMillis());
      journal.failed(
          "jfailed",
          1,
          ByteString.EMPTY,
          TaskFailure.newBuilder().setTask(1).setAttempt(3).setError("disk full").build(),
          "task 1 after 3 attempts: disk full");
    }
    Node node = new Node(new CoordinatorConfig());
    Set<Integer> ran = ConcurrentHashMap.newKeySet();
    node.worker("w1", 1, ran);
    Job failed = node.await("jfailed", JobState.FAILED);
    assertEquals(
        "1 of 2 tasks failed; first: task 1 after 3 attempts: disk full", failed.getError());
    assertEquals(Set.of(0), ran);
    assertEquals("disk full", failed.getFailures(0).getError());
  }

  @Test
  void aJobThatWasStoppingEndsAsItsStopAskedAtTheRestart() throws Exception {
    long now = System.currentTimeMillis();
    try (Journal journal = journal()) {
      journal.submitted("jcancel", sum(100, 4), 4, now);
      journal.succeeded("jcancel", 0, output(sum(100, 4), 0));
      journal.stopping("jcancel", JobState.CANCELLED, "cancelled by request");
      journal.submitted("jtimeout", sum(100, 4), 4, now);
      journal.stopping("jtimeout", JobState.FAILED, "timed out after 5 s");
    }
    Node node = new Node(new CoordinatorConfig());
    Job cancelled = node.get("jcancel");
    assertEquals(JobState.CANCELLED, cancelled.getState());
    assertTrue(cancelled.getError().startsWith("cancelled by request"), cancelled.getError());
    assertEquals(3, cancelled.getTasksNeverStarted());
    assertEquals(1, cancelled.getTasksDone());
    Job timedOut = node.get("jtimeout");
    assertEquals(JobState.FAILED, timedOut.getState());
    assertTrue(timedOut.getError().startsWith("timed out after 5 s"), timedOut.getError());
  }

  @Test
  void aJobWhoseInputChangedWhileTheCoordinatorWasDownFailsNamingWhy(@TempDir Path files)
      throws Exception {
    Path file = Files.write(files.resolve("input.bin"), new byte[8192]);
    JobSpec spec =
        JobSpec.newBuilder()
            .setHash(HashParams.newBuilder().setPath(file.toString()).setChunkBytes(4096))
            .build();
    try (Journal journal = journal()) {
      journal.submitted("jhash", spec, 2, System.currentTimeMillis());
    }
    Files.write(file, new byte[12_288]); // three chunks now
    Node node = new Node(new CoordinatorConfig().hashRoots(List.of(files)));
    Job failed = node.get("jhash");
    assertEquals(JobState.FAILED, failed.getState());
    assertEquals(
        "cannot resume after a coordinator restart: it now splits into 3 tasks instead of 2"
            + " (did its input change?)",
        failed.getError());
    node.close();
    assertEquals(
        JobState.FAILED,
        new Node(new CoordinatorConfig().hashRoots(List.of(files))).get("jhash").getState());
  }

  @Test
  void aHashJobIsCheckedAgainAgainstTheRootsWhenItResumes(
      @TempDir Path files, @TempDir Path elsewhere) throws Exception {
    Path file = Files.write(files.toRealPath().resolve("input.bin"), new byte[8192]);
    JobSpec spec =
        JobSpec.newBuilder()
            .setHash(HashParams.newBuilder().setPath(file.toString()).setChunkBytes(4096))
            .build();
    try (Journal journal = journal()) {
      journal.submitted("jinside", spec, 2, System.currentTimeMillis());
    }
    // Still under its root: it resumes and runs.
    Node node = new Node(new CoordinatorConfig().hashRoots(List.of(files)));
    node.worker("w1", 1, ConcurrentHashMap.newKeySet());
    assertEquals(2, node.await("jinside", JobState.SUCCEEDED).getTasksDone());
    node.close();
    // The coordinator now reads elsewhere only: the job fails saying why, and never runs.
    try (Journal journal = journal()) {
      journal.submitted("jmoved", spec, 2, System.currentTimeMillis());
    }
    node = new Node(new CoordinatorConfig().hashRoots(List.of(elsewhere)));
    Job moved = node.get("jmoved");
    assertEquals(JobState.FAILED, moved.getState());
    assertEquals(
        "cannot resume after a coordinator restart: hash.path: "
            + file
            + " is outside the directories this coordinator may read ("
            + elsewhere.toRealPath()
            + "); start it with --hash-root DIR to allow another",
        moved.getError());
    assertEquals(0, moved.getAttempts());
    node.close();
    // No root at all: the same, with the reason.
    try (Journal journal = journal()) {
      journal.submitted("jnoroot", spec, 2, System.currentTimeMillis());
    }
    Job noRoot = new Node(new CoordinatorConfig()).get("jnoroot");
    assertEquals(JobState.FAILED, noRoot.getState());
    assertEquals(
        "cannot resume after a coordinator restart: " + ReadableRoots.NO_ROOTS, noRoot.getError());
  }

  @Test
  void timeoutsCountFromTheOriginalSubmission() throws Exception {
    long now = System.currentTimeMillis();
    JobSpec expired = sum(100, 2).toBuilder().setTimeout(Durations.fromSeconds(60)).build();
    JobSpec running = sum(100, 2).toBuilder().setTimeout(Durations.fromSeconds(61)).build();
    try (Journal journal = journal()) {
      journal.submitted("jexpired", expired, 2, now - 60_500);
      journal.submitted("jlate", running, 2, now - 60_000);
    }
    Node node = new Node(new CoordinatorConfig());
    Job failed = node.get("jexpired");
    assertEquals(JobState.FAILED, failed.getState());
    assertEquals("timed out after 60 s", failed.getError());
    // One second was left: it times out soon after the restart, though no worker ever came.
    Job late = node.await("jlate", JobState.FAILED);
    assertEquals("timed out after 61 s", late.getError());
  }

  @Test
  void aSubmissionSentAgainAfterARestartGetsTheJobItsFirstSendingMade() throws Exception {
    Node first = new Node(new CoordinatorConfig());
    SubmitJobRequest request =
        SubmitJobRequest.newBuilder().setSpec(sum(100, 2)).setRequestId("req-1").build();
    // The answer to this one is "lost": the coordinator stops before the client reads it.
    Job made = first.jobs().submitJob(request);
    first.close();

    Node second = new Node(new CoordinatorConfig());
    Job again = second.jobs().submitJob(request);
    assertEquals(made.getId(), again.getId());
    assertEquals("req-1", again.getSpec().getRequestId());
    assertEquals(
        1, second.jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount(), "one job");
    Job other = second.jobs().submitJob(request.toBuilder().setRequestId("req-2").build());
    assertFalse(other.getId().equals(made.getId()), "another request id makes another job");
  }

  @Test
  void aJobIsInTheJournalBeforeSubmitJobAnswers() throws Exception {
    Node node = new Node(new CoordinatorConfig());
    Job job = node.submit(sum(100, 3));
    // A second reader, as after a crash right after the answer: the row is there.
    try (Connection db = reader();
        PreparedStatement query =
            db.prepareStatement("SELECT spec, tasks FROM jobs WHERE id = ?")) {
      query.setString(1, job.getId());
      try (ResultSet rs = query.executeQuery()) {
        assertTrue(rs.next(), "job " + job.getId() + " is not in the journal");
        // As submitted, with the owner the coordinator recorded.
        assertEquals(
            sum(100, 3).toBuilder().setOwner("anonymous").build(),
            JobSpec.parseFrom(rs.getBytes(1)));
        assertEquals(3, rs.getInt(2));
      }
    }
  }

  @Test
  void whileTheJournalCannotBeWrittenJobsAreRefusedAndItCatchesUpLater() throws Exception {
    Node node = new Node(new CoordinatorConfig());
    try (AutoCloseable refusing = refuseWrites()) {
      StatusRuntimeException e =
          assertThrows(StatusRuntimeException.class, () -> node.submit(sum(100, 2)));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(
          e.getStatus().getDescription().startsWith("the job could not be recorded: "),
          e.getStatus().getDescription());
    }
    // Attached only now: a test worker sends no heartbeats, and the refusal took seconds.
    node.worker("w1", 1, ConcurrentHashMap.newKeySet());
    Job job = node.submit(sum(100, 2));
    assertEquals("5050", node.await(job.getId(), JobState.SUCCEEDED).getResult().getSum().getSum());
    assertEquals(1, node.jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount());
  }

  @Test
  void finishedJobsArePrunedByAgeAndCountInMemoryAndInTheJournal() throws Exception {
    long now = System.currentTimeMillis();
    try (Journal journal = journal()) {
      for (String id : List.of("jold", "jmid", "jnew", "jnewest")) {
        journal.submitted(id, sum(10, 1), 1, now - 10_000);
      }
      journal.finished(finishedJob("jold", now - Duration.ofDays(8).toMillis()));
      journal.finished(finishedJob("jmid", now - 3_000));
      journal.finished(finishedJob("jnew", now - 2_000));
      journal.finished(finishedJob("jnewest", now - 1_000));
    }
    Node node = new Node(new CoordinatorConfig().retainedFinishedJobs(2));
    assertNotFound(node, "jold"); // older than the 7 days
    assertNotFound(node, "jmid"); // beyond the newest two
    assertEquals(JobState.SUCCEEDED, node.get("jnew").getState());
    node.worker("w1", 1, ConcurrentHashMap.newKeySet());
    Job third = node.submit(sum(10, 1));
    node.await(third.getId(), JobState.SUCCEEDED);
    assertNotFound(node, "jnew"); // a third finished job pushes the oldest out
    node.close();

    Node again = new Node(new CoordinatorConfig().retainedFinishedJobs(10));
    assertNotFound(again, "jnew"); // ... of the journal too
    assertEquals(JobState.SUCCEEDED, again.get("jnewest").getState());
    assertEquals(JobState.SUCCEEDED, again.get(third.getId()).getState());
  }

  @Test
  void finishedJobsOlderThanTheRetentionAreForgottenWhileRunning() throws Exception {
    Node node = new Node(new CoordinatorConfig().retention(Duration.ofMillis(500)));
    node.worker("w1", 1, ConcurrentHashMap.newKeySet());
    Job job = node.submit(sum(10, 1));
    node.await(job.getId(), JobState.SUCCEEDED);
    // The prune runs every second at this retention.
    awaitTrue(
        () -> {
          try {
            node.get(job.getId());
            return false;
          } catch (StatusRuntimeException e) {
            return e.getStatus().getCode() == Status.Code.NOT_FOUND;
          }
        },
        "the finished job to be forgotten");
    node.close();
    Node again = new Node(new CoordinatorConfig().retention(Duration.ofDays(1)));
    assertNotFound(again, job.getId());
  }

  @Test
  void aSecondCoordinatorOnTheSameDataDirIsRefusedNamingIt() throws Exception {
    Node first = new Node(new CoordinatorConfig());
    DataDirException e =
        assertThrows(DataDirException.class, () -> new Node(new CoordinatorConfig()));
    assertEquals(
        "the data dir "
            + dataDir
            + " is in use by another coordinator (pid "
            + ProcessHandle.current().pid()
            + "); stop it first, or give this one a data dir of its own with --data-dir DIR",
        e.getMessage());
    first.close();
    Node second = new Node(new CoordinatorConfig()); // the lock went with the first
    assertTrue(Files.exists(dataDir.resolve(DataDirLock.FILE_NAME)));
    second.close();
  }

  @Test
  void aBacklogHoldsDispatchUpUntilItIsWritten() throws Exception {
    try (Journal journal = openJournal(Duration.ofDays(1), 10)) {
      ByteString mib = ByteString.copyFrom(new byte[1 << 20]);
      long tasks = maxBacklogBytes() / mib.size() + 1;
      for (int task = 0; task < tasks; task++) {
        journal.succeeded("jbig", task, mib);
      }
      assertTrue(journal.isBehind());
      CountDownLatch caughtUp = new CountDownLatch(1);
      startJournal(journal, caughtUp::countDown, (id, why) -> {});
      assertTrue(caughtUp.await(30, TimeUnit.SECONDS), "the journal never caught up");
      assertFalse(journal.isBehind());
    }
  }

  @Test
  void aClosedJournalRefusesSubmissionsSayingSo() throws Exception {
    Journal journal = journal();
    journal.close();
    java.util.concurrent.ExecutionException e =
        assertThrows(
            java.util.concurrent.ExecutionException.class,
            () -> journal.submitted("jlate", sum(10, 1), 1, 0).get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof Journal.JournalException, e.toString());
    assertTrue(e.getCause().getMessage().endsWith(" is closed"), e.getCause().getMessage());
    journal.succeeded("jlate", 0, ByteString.EMPTY); // dropped, not thrown
    assertFalse(journal.isBehind());
  }

  private static Job finishedJob(String id, long finishedMs) {
    return Job.newBuilder()
        .setId(id)
        .setKind("sum")
        .setSpec(sum(10, 1))
        .setState(JobState.SUCCEEDED)
        .setTasksTotal(1)
        .setTasksDone(1)
        .setCreated(Timestamps.fromMillis(finishedMs - 100))
        .setFinished(Timestamps.fromMillis(finishedMs))
        .build();
  }

  /**
   * A record whose row can never be written (a trigger installed behind the coordinator's back
   * raises for one job's results, as a constraint or encoding error would) is set aside: logged at
   * ERROR with its job id and the SQL error, its job failed saying it could not be recorded, and
   * the other jobs' records committed, so their tasks keep being dispatched and recorded.
   */
  @Test
  void aRecordThatCanNeverBeWrittenFailsOnlyItsJob() throws Exception {
    List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Logger journalLog =
        java.util.logging.Logger.getLogger(journalClass().getName());
    java.util.logging.Handler capture =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord record) {
            if (record.getLevel() == java.util.logging.Level.SEVERE) {
              errors.add(new java.util.logging.SimpleFormatter().formatMessage(record));
            }
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    journalLog.addHandler(capture);
    try {
      Node node = new Node(new CoordinatorConfig());
      TestWorker worker = node.worker("w1", 4, null);
      Job poisoned = node.submit(sum(100, 2));
      Job healthy = node.submit(sum(1000, 2));
      poisonResultsOf(poisoned.getId());
      List<TaskAssignment> tasks = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        tasks.add(worker.nextTask(WAIT));
      }
      TaskAssignment poisonedRunning = null;
      boolean poisonedAnswered = false;
      for (TaskAssignment task : tasks) {
        if (task.getJobId().equals(poisoned.getId()) && !poisonedAnswered) {
          // One result of its two: the job stays unfinished, so the result row is written.
          worker.answer(JobServiceTest.run(task));
          poisonedAnswered = true;
        } else if (task.getJobId().equals(poisoned.getId())) {
          poisonedRunning = task;
        }
      }
      TaskAssignment stillRunning = poisonedRunning;
      awaitTrue(() -> worker.cancelled.contains(stillRunning.getAttemptId()), "the cancel");
      worker.answer(
          TaskResult.newBuilder()
              .setAttemptId(stillRunning.getAttemptId())
              .setCancelled(true)
              .setStop(dev.weft.v1.StopOutcome.STOPPED)
              .build());
      Job failed = node.await(poisoned.getId(), JobState.FAILED);
      assertTrue(
          failed.getError().startsWith("the job could not be recorded in the journal: ")
              && failed.getError().contains("poisoned by the test"),
          failed.getError());

      // The other job's results commit, after the poisoned record and alone.
      for (TaskAssignment task : tasks) {
        if (task.getJobId().equals(healthy.getId())) {
          worker.answer(JobServiceTest.run(task));
        }
      }
      assertEquals(
          "500500", node.await(healthy.getId(), JobState.SUCCEEDED).getResult().getSum().getSum());
      awaitTrue(
          () ->
              errors.stream()
                  .anyMatch(
                      e ->
                          e.contains("of job " + poisoned.getId())
                              && e.contains("poisoned by the test")),
          "an ERROR naming the job and the SQL error; got " + errors);
      node.close();

      // Both ends were recorded: the poisoned job's end is its row, not a result.
      Node second = new Node(new CoordinatorConfig());
      assertEquals(JobState.SUCCEEDED, second.get(healthy.getId()).getState());
      Job kept = second.get(poisoned.getId());
      assertEquals(JobState.FAILED, kept.getState());
      assertTrue(kept.getError().contains("could not be recorded"), kept.getError());
    } finally {
      journalLog.removeHandler(capture);
    }
  }

  private static void assertNotFound(Node node, String id) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> node.get(id));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), id + ": " + e.getStatus());
  }
}
