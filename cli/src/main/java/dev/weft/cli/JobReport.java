package dev.weft.cli;

import com.google.protobuf.Timestamp;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.Resources;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.WorkerInfo;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/** Jobs and workers as people read them. */
final class JobReport {
  private static final int MAX_FAILURES_SHOWN = 20;
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneId.systemDefault());

  private JobReport() {}

  static void submitted(PrintWriter out, Job job) {
    out.printf(
        "submitted job %s (%s, %d tasks, %s)%n",
        job.getId(), job.getKind(), job.getTasksTotal(), state(job.getState()));
    if (!job.getWaitingReason().isEmpty()) {
      out.println("waiting " + job.getWaitingReason());
    }
    if (job.getState() == JobState.FAILED && !job.getError().isEmpty()) {
      out.printf("error: %s%n", job.getError());
    }
    out.printf("follow it with: weft status %s%n", job.getId());
    out.flush();
  }

  /** The outcome of a finished job: state, result, wall time and what failed. */
  static void finished(PrintWriter out, Job job) {
    out.printf(
        "%-10s job %s (%s)%s%n", state(job.getState()), job.getId(), job.getKind(), timing(job));
    if (job.hasResult() && !job.getResult().getSummary().isEmpty()) {
      row(out, "result", job.getResult().getSummary());
    }
    outcome(out, job);
    failures(out, job);
    out.flush();
  }

  /** Everything known about a job, finished or not. */
  static void details(PrintWriter out, Job job, Instant now) {
    row(out, "job", job.getId());
    if (!job.getSpec().getName().isEmpty()) {
      row(out, "name", job.getSpec().getName());
    }
    row(out, "kind", job.getKind());
    row(out, "state", state(job.getState()));
    row(out, "progress", progress(job));
    if (!job.getWaitingReason().isEmpty()) {
      row(out, "waiting", job.getWaitingReason());
    }
    JobSpec spec = job.getSpec();
    if (spec.getPriority() != 0 || spec.getWeight() > 0) {
      row(
          out,
          "priority",
          spec.getPriority() + (spec.getWeight() > 0 ? ", weight " + spec.getWeight() : ""));
    }
    String needs = Needs.describe(spec);
    if (!needs.isEmpty()) {
      row(out, "each task", needs);
    }
    if (job.getPreemptions() > 0) {
      row(
          out,
          "preempted",
          job.getPreemptions() + " attempts, stopped for higher classes and run again at no cost");
    }
    if (job.getAttempts() > job.getTasksTotal()) {
      row(out, "attempts", job.getAttempts() + " (tasks were retried)");
    }
    if (job.hasCreated()) {
      row(out, "created", TIME.format(instant(job.getCreated())) + " (" + age(job, now) + " ago)");
    }
    String timing = timing(job);
    if (!timing.isEmpty()) {
      row(out, "wall time", timing.substring(", ".length()));
    }
    if (job.hasResult() && !job.getResult().getSummary().isEmpty()) {
      row(out, "result", job.getResult().getSummary());
    }
    outcome(out, job);
    failures(out, job);
    StopReport.tasks(out, job);
    out.flush();
  }

  /**
   * Why the job did not succeed ("reason" for a cancel, "error" otherwise) and how its running
   * tasks stopped, when it was cancelled or timed out.
   */
  private static void outcome(PrintWriter out, Job job) {
    if (!job.getError().isEmpty()) {
      boolean cancelled =
          job.getState() == JobState.CANCELLED || job.getState() == JobState.CANCELLING;
      row(out, cancelled ? "reason" : "error", job.getError());
    }
    String stops = StopReport.summary(job);
    if (!stops.isEmpty()) {
      row(out, "stops", stops);
    }
  }

  static void jobs(PrintWriter out, List<Job> jobs, Instant now) {
    if (jobs.isEmpty()) {
      out.println("no jobs");
      out.flush();
      return;
    }
    Table table =
        new Table("ID", "KIND", "STATE", "PRIO", "PROGRESS", "AGE", "OWNER", "NAME", "RESULT");
    for (Job job : jobs) {
      String summary = job.hasResult() ? job.getResult().getSummary() : "";
      table.row(
          job.getId(),
          job.getKind(),
          state(job.getState()),
          job.getSpec().getPriority(),
          progress(job),
          age(job, now),
          job.getSpec().getOwner().isEmpty() ? "-" : job.getSpec().getOwner(),
          job.getSpec().getName(),
          abbreviate(summary, 40));
    }
    table.print(out);
  }

  static void workers(PrintWriter out, List<WorkerInfo> workers) {
    if (workers.isEmpty()) {
      out.println("no workers attached; start one with: weft worker --join HOST:PORT");
      out.flush();
      return;
    }
    // One column for each resource of the operator's own that some worker has.
    TreeSet<String> custom = new TreeSet<>();
    for (WorkerInfo w : workers) {
      custom.addAll(w.getResourcesTotal().getCustomMap().keySet());
    }
    List<String> headers =
        new ArrayList<>(List.of("ID", "HOST", "PID", "SLOTS", "BUSY", "CPU", "MEM", "GPU"));
    headers.addAll(custom);
    headers.addAll(List.of("TRANSPORT", "TASKS", "STATE", "LABELS"));
    Table table = new Table(headers.toArray(String[]::new));
    for (WorkerInfo w : workers) {
      Resources total = w.getResourcesTotal();
      Resources free = w.getResourcesFree();
      boolean known = w.hasResourcesTotal();
      List<Object> row =
          new ArrayList<>(
              List.of(
                  w.getId(),
                  w.getHost(),
                  w.getPid(),
                  w.getSlots(),
                  w.getBusy(),
                  known ? cpus(free.getCpuMillis()) + "/" + cpus(total.getCpuMillis()) : "-",
                  known ? bytes(free.getMemBytes()) + "/" + bytes(total.getMemBytes()) : "-",
                  known ? free.getGpus() + "/" + total.getGpus() : "-"));
      for (String name : custom) {
        row.add(
            total.containsCustom(name)
                ? free.getCustomOrDefault(name, 0) + "/" + total.getCustomOrThrow(name)
                : "-");
      }
      row.add(w.getTransport());
      row.add(w.getTasksDone());
      row.add(state(w));
      row.add(labels(w.getLabelsMap()));
      table.row(row.toArray());
    }
    table.print(out);
  }

  /** Thousandths of a CPU as CPUs: "4", "1.5", "0.25". */
  static String cpus(long millis) {
    return BigDecimal.valueOf(millis, 3).stripTrailingZeros().toPlainString();
  }

  /** Bytes in the largest binary unit that keeps a whole part: "512M", "3.5G", "24G". */
  static String bytes(long bytes) {
    String[] units = {"B", "K", "M", "G", "T", "P", "E"};
    int unit = 0;
    double value = bytes;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return (value < 10 && unit > 0
            ? String.format(Locale.ROOT, "%.1f", value)
            : String.valueOf(Math.round(value)))
        + units[unit];
  }

  /** "rack=r01,zone=eu" in key order, or "-" for none. */
  private static String labels(Map<String, String> labels) {
    if (labels.isEmpty()) {
      return "-";
    }
    StringBuilder text = new StringBuilder();
    new TreeMap<>(labels)
        .forEach(
            (key, value) ->
                text.append(text.isEmpty() ? "" : ",").append(key).append('=').append(value));
    return text.toString();
  }

  /** "ready", "draining", "drained (REASON)", with ", N stuck" when stuck tasks hold slots. */
  private static String state(WorkerInfo w) {
    String state = w.getState().toLowerCase(Locale.ROOT);
    if (!w.getDrainReason().isEmpty()) {
      state += " (" + w.getDrainReason() + ")";
    }
    return w.getStuck() > 0 ? state + ", " + w.getStuck() + " stuck" : state;
  }

  static String state(JobState state) {
    return state == JobState.JOB_STATE_UNSPECIFIED ? "UNKNOWN" : state.name();
  }

  private static String progress(Job job) {
    String text = job.getTasksDone() + "/" + job.getTasksTotal();
    if (job.getTasksFailed() > 0) {
      text += " (" + job.getTasksFailed() + " failed)";
    }
    if (job.getState() == JobState.CANCELLING && job.getTasksRunning() > 0) {
      text += " (" + job.getTasksRunning() + " stopping)";
    }
    return text;
  }

  /** ", 100 tasks in 2.41 s, 41.5 tasks/s" once the job has finished; empty before. */
  private static String timing(Job job) {
    if (!job.hasFinished() || !job.hasCreated()) {
      return "";
    }
    Duration wall = Duration.between(instant(job.getCreated()), instant(job.getFinished()));
    double seconds = Math.max(wall.toNanos() / 1e9, 1e-3);
    return String.format(
        Locale.ROOT,
        ", %d tasks in %s, %.1f tasks/s",
        job.getTasksTotal(),
        seconds(wall),
        job.getTasksDone() / seconds);
  }

  static String seconds(Duration d) {
    return String.format(Locale.ROOT, "%.2f s", d.toNanos() / 1e9);
  }

  private static void failures(PrintWriter out, Job job) {
    // One entry per failed task: the coordinator's failure records, plus the exec outcome with the
    // task's exit code and output tails when the kind is exec.
    Map<Integer, StringBuilder> byTask = new TreeMap<>();
    for (TaskFailure f : job.getFailuresList()) {
      byTask
          .computeIfAbsent(f.getTask(), t -> new StringBuilder())
          .append(
              String.format(
                  "  task %d, attempt %d%s%s: %s%s%n",
                  f.getTask(),
                  f.getAttempt(),
                  f.getWorkerId().isEmpty() ? "" : " on " + f.getWorkerId(),
                  f.hasTime() ? " at " + TIME.format(instant(f.getTime())) : "",
                  f.getError(),
                  f.hasRetryAt() ? "; retried at " + TIME.format(instant(f.getRetryAt())) : ""));
    }
    if (job.hasResult() && job.getResult().hasExec()) {
      for (ExecOutcome o : job.getResult().getExec().getTasksList()) {
        if (o.getExitCode() == 0) {
          continue;
        }
        StringBuilder text = byTask.computeIfAbsent(o.getTask(), t -> new StringBuilder());
        text.append(
            String.format(
                "  task %d (input %s) exited %d after %d ms%n",
                o.getTask(), o.getInput(), o.getExitCode(), o.getDurationMs()));
        tail(text, "stdout", o.getStdoutTail());
        tail(text, "stderr", o.getStderrTail());
      }
    }
    if (byTask.isEmpty()) {
      return;
    }
    // Retried attempts are listed too: while no task has failed for good, they are all there is.
    out.printf(
        job.getTasksFailed() > 0 ? "failed tasks (%d):%n" : "failed attempts (%d tasks):%n",
        byTask.size());
    int shown = 0;
    for (StringBuilder text : byTask.values()) {
      if (shown++ == MAX_FAILURES_SHOWN) {
        out.printf(
            "  ... and %d more (weft status %s --json has them all)%n",
            byTask.size() - MAX_FAILURES_SHOWN, job.getId());
        break;
      }
      out.print(text);
    }
  }

  private static void tail(StringBuilder text, String name, String tail) {
    if (tail.isBlank()) {
      return;
    }
    text.append("    ").append(name).append(":\n");
    tail.stripTrailing().lines().forEach(line -> text.append("      ").append(line).append('\n'));
  }

  private static void row(PrintWriter out, String key, String value) {
    out.printf("%-10s %s%n", key, value);
  }

  private static String age(Job job, Instant now) {
    if (!job.hasCreated()) {
      return "-";
    }
    long s = Math.max(0, Duration.between(instant(job.getCreated()), now).toSeconds());
    if (s < 120) {
      return s + "s";
    }
    if (s < 7_200) {
      return s / 60 + "m";
    }
    if (s < 172_800) {
      return s / 3_600 + "h";
    }
    return s / 86_400 + "d";
  }

  private static String abbreviate(String text, int max) {
    return text.length() <= max ? text : text.substring(0, max - 3) + "...";
  }

  private static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }
}
