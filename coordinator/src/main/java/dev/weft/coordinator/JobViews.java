package dev.weft.coordinator;

import dev.weft.coordinator.security.Caller;
import dev.weft.v1.ExecParams;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import java.util.function.UnaryOperator;

/**
 * What a caller may see of a job. A job's {@code exec.env} values are often secrets (API keys,
 * passwords) its owner handed to its tasks: only the owner and admins see them; everyone else with
 * the read role sees the names with the values redacted.
 */
final class JobViews {
  static final String REDACTED = "<redacted>";

  private JobViews() {}

  static Job forCaller(Job job, Caller caller) {
    if (!hidesSomething(job.getSpec()) || caller.owns(job.getSpec().getOwner())) {
      return job;
    }
    return job.toBuilder().setSpec(redact(job.getSpec())).build();
  }

  /** For a watch stream: each event as {@code caller} may see it. */
  static UnaryOperator<JobEvent> eventsFor(Caller caller) {
    if (caller.admin()) {
      return UnaryOperator.identity();
    }
    return event -> {
      if (event.hasSnapshot() && hidesSomething(event.getSnapshot().getSpec())) {
        return event.toBuilder().setSnapshot(forCaller(event.getSnapshot(), caller)).build();
      }
      if (event.hasFinished() && hidesSomething(event.getFinished().getSpec())) {
        return event.toBuilder().setFinished(forCaller(event.getFinished(), caller)).build();
      }
      return event;
    };
  }

  /** The spec with its exec.env values replaced; names stay, so a reader sees what was set. */
  static JobSpec redact(JobSpec spec) {
    ExecParams.Builder exec = spec.getExec().toBuilder();
    for (String name : spec.getExec().getEnvMap().keySet()) {
      exec.putEnv(name, REDACTED);
    }
    return spec.toBuilder().setExec(exec).build();
  }

  private static boolean hidesSomething(JobSpec spec) {
    return spec.hasExec() && spec.getExec().getEnvCount() > 0;
  }
}
