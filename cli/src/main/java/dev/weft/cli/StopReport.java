package dev.weft.cli;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskStop;
import java.io.PrintWriter;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * How the running tasks of a cancelled or timed-out job stopped, as people read it: one summary
 * line ("3 running tasks stopped: 2 exited on SIGTERM, 1 killed after the grace period; 5 never
 * started") and a compact per-task table.
 */
final class StopReport {
  static final int MAX_TASKS_SHOWN = 20;
  private static final int MAX_DETAIL_CHARS = 60;

  private StopReport() {}

  /** Whether the job has stops to report: it was cancelled or timed out with tasks unfinished. */
  static boolean applies(Job job) {
    return job.getState() == JobState.CANCELLING
        || job.getState() == JobState.CANCELLED
        || job.getTasksStopped() > 0
        || job.getTasksNeverStarted() > 0;
  }

  /** The summary line, or "" when {@link #applies} is false. */
  static String summary(Job job) {
    if (!applies(job)) {
      return "";
    }
    StringBuilder text = new StringBuilder();
    int stopped = job.getTasksStopped();
    if (job.getState() == JobState.CANCELLING) {
      text.append("waiting for ")
          .append(tasks(job.getTasksRunning(), "running task"))
          .append(" to stop");
      if (stopped > 0) {
        text.append("; ").append(stopped).append(" stopped so far");
        breakdown(text, job);
      }
    } else if (stopped > 0) {
      text.append(tasks(stopped, "running task")).append(" stopped");
      breakdown(text, job);
    } else {
      text.append("no task was running");
    }
    if (job.getTasksNeverStarted() > 0) {
      text.append("; ").append(job.getTasksNeverStarted()).append(" never started");
    }
    return text.toString();
  }

  /** ": 2 exited on SIGTERM, 1 killed after the grace period", from the recorded stops. */
  private static void breakdown(StringBuilder text, Job job) {
    List<TaskStop> stops = job.getStopsList();
    if (stops.isEmpty()) {
      return;
    }
    Map<StopOutcome, Integer> counts = new EnumMap<>(StopOutcome.class);
    for (TaskStop stop : stops) {
      counts.merge(stop.getOutcome(), 1, Integer::sum);
    }
    // The coordinator records the first 1000 stops; the counts then cover only those.
    text.append(stops.size() < job.getTasksStopped() ? " (first " + stops.size() + ": " : ": ");
    String separator = "";
    for (Map.Entry<StopOutcome, Integer> count : counts.entrySet()) {
      text.append(separator).append(count.getValue()).append(' ').append(outcome(count.getKey()));
      separator = ", ";
    }
    if (stops.size() < job.getTasksStopped()) {
      text.append(')');
    }
  }

  /**
   * One line per stopped task, in task order, at most {@link #MAX_TASKS_SHOWN}; nothing when no
   * stop was recorded.
   */
  static void tasks(PrintWriter out, Job job) {
    List<TaskStop> stops =
        job.getStopsList().stream()
            .sorted(Comparator.comparingInt(TaskStop::getTask).thenComparing(TaskStop::getAttempt))
            .toList();
    if (stops.isEmpty()) {
      return;
    }
    out.printf("stopped tasks (%d):%n", Math.max(job.getTasksStopped(), stops.size()));
    Table table = new Table("TASK", "ATTEMPT", "WORKER", "OUTCOME", "MS", "DETAIL");
    for (TaskStop stop : stops.subList(0, Math.min(stops.size(), MAX_TASKS_SHOWN))) {
      table.row(
          stop.getTask(),
          stop.getAttempt(),
          stop.getWorkerId().isEmpty() ? "-" : stop.getWorkerId(),
          outcome(stop.getOutcome()),
          stop.getStopMs(),
          abbreviate(stop.getDetail().strip().replaceAll("\\s*\\R\\s*", "; ")));
    }
    table.print(out, "  ");
    int more = Math.max(job.getTasksStopped(), stops.size()) - MAX_TASKS_SHOWN;
    if (more > 0) {
      out.printf(
          "  ... and %d more (weft status %s --json has %s)%n",
          more,
          job.getId(),
          stops.size() < job.getTasksStopped() ? "the first " + stops.size() : "them all");
    }
    out.flush();
  }

  /** What happened to one task, in words that fit after a count ("2 exited on SIGTERM"). */
  static String outcome(StopOutcome outcome) {
    return switch (outcome) {
      case STOPPED -> "stopped when asked";
      case EXITED_ON_TERM -> "exited on SIGTERM";
      case KILLED -> "killed after the grace period";
      case STUCK -> "stuck past the grace period";
      case WORKER_LOST -> "lost with the worker";
      case NO_ANSWER -> "no answer from the worker";
      case STOP_OUTCOME_UNSPECIFIED, UNRECOGNIZED -> "ended (no outcome given)";
    };
  }

  private static String tasks(int count, String noun) {
    return count + " " + noun + (count == 1 ? "" : "s");
  }

  private static String abbreviate(String text) {
    return text.length() <= MAX_DETAIL_CHARS
        ? text
        : text.substring(0, MAX_DETAIL_CHARS - 3) + "...";
  }
}
