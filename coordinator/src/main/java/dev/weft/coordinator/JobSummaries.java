package dev.weft.coordinator;

import dev.weft.v1.ExecParams;
import dev.weft.v1.Job;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PluginParams;
import java.util.Map;

/**
 * A job as ListJobs shows it by default ({@code JOB_VIEW_SUMMARY}): what a listing needs — id,
 * kind, state, counts, timing, error and the one-line result summary — without what grows with the
 * job's inputs and tasks. A job of a million exec inputs lists in a few hundred bytes.
 */
final class JobSummaries {
  private JobSummaries() {}

  static Job of(Job full) {
    Job.Builder job =
        full.toBuilder().clearFailures().clearStops().setSpec(specOf(full.getSpec())).clearResult();
    if (full.hasResult()) {
      job.setResult(JobResult.newBuilder().setSummary(full.getResult().getSummary()));
    }
    return job.build();
  }

  /** The spec without exec inputs and environment values, plugin argument values and data. */
  private static JobSpec specOf(JobSpec spec) {
    switch (spec.getParamsCase()) {
      case EXEC -> {
        ExecParams.Builder exec = spec.getExec().toBuilder().clearInputs().clearEnv();
        for (String name : spec.getExec().getEnvMap().keySet()) {
          exec.putEnv(name, "");
        }
        return spec.toBuilder().setExec(exec).build();
      }
      case PLUGIN -> {
        PluginParams.Builder plugin = spec.getPlugin().toBuilder().clearArgs().clearData();
        for (Map.Entry<String, String> arg : spec.getPlugin().getArgsMap().entrySet()) {
          plugin.putArgs(arg.getKey(), "");
        }
        return spec.toBuilder().setPlugin(plugin).build();
      }
      default -> {
        return spec;
      }
    }
  }
}
