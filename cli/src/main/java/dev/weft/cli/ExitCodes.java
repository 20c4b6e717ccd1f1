package dev.weft.cli;

import dev.weft.v1.JobState;
import io.grpc.Status;

/**
 * The exit codes scripts can rely on, and the one place that maps outcomes to them.
 *
 * <p>0 success; 1 the job failed or was cancelled; 2 a usage error (bad option, bad request,
 * unknown job); 3 the coordinator cannot be reached; 70 a bug in weft; 75 a worker stopped because
 * stuck tasks held its slots; 77 the coordinator refused the caller (join token, certificate) or
 * its certificate was rejected; 130 detached after Ctrl-C (or a second stop signal).
 */
final class ExitCodes {
  static final int OK = 0;
  static final int JOB_FAILED = 1;
  static final int USAGE = 2;
  static final int UNREACHABLE = 3;
  static final int SOFTWARE = 70;
  // EX_TEMPFAIL: a worker whose slots were all held by stuck tasks; its supervisor restarts it.
  static final int STUCK = 75;
  // EX_NOPERM: no valid join token or client certificate, or a coordinator certificate we reject.
  static final int REFUSED = 77;
  static final int INTERRUPTED = 130;

  private ExitCodes() {}

  /** 1 for a job that failed or was cancelled, also while it is still cancelling; else 0. */
  static int forJob(JobState state) {
    return switch (state) {
      case FAILED, CANCELLED, CANCELLING -> JOB_FAILED;
      default -> OK;
    };
  }

  /** What an error status from the coordinator means for the user. */
  static int forStatus(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, NOT_FOUND, OUT_OF_RANGE, ALREADY_EXISTS, FAILED_PRECONDITION -> USAGE;
      case UNAVAILABLE, DEADLINE_EXCEEDED -> UNREACHABLE;
      case UNAUTHENTICATED, PERMISSION_DENIED -> REFUSED;
      default -> SOFTWARE;
    };
  }
}
