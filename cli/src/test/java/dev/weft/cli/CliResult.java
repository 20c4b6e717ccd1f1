package dev.weft.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.weft.v1.Job;
import dev.weft.v1.ListJobsResponse;
import dev.weft.v1.ListWorkersResponse;
import dev.weft.v1.WorkerInfo;
import java.util.List;

/** What one run of the CLI did: its exit code and everything it printed. */
record CliResult(int exitCode, String out, String err) {

  /** The last non-empty line of stdout: where a --json command puts its JSON. */
  String lastLine() {
    List<String> lines = out.lines().filter(line -> !line.isBlank()).toList();
    if (lines.isEmpty()) {
      throw new AssertionError("no output; " + this);
    }
    return lines.getLast();
  }

  Job job() {
    Job.Builder job = Job.newBuilder();
    parse(lastLine(), job);
    return job.build();
  }

  List<Job> jobs() {
    ListJobsResponse.Builder jobs = ListJobsResponse.newBuilder();
    parse(lastLine(), jobs);
    return jobs.getJobsList();
  }

  List<WorkerInfo> workers() {
    ListWorkersResponse.Builder workers = ListWorkersResponse.newBuilder();
    parse("{\"workers\":" + lastLine() + "}", workers);
    return workers.getWorkersList();
  }

  private void parse(String json, com.google.protobuf.Message.Builder into) {
    try {
      JsonFormat.parser().merge(json, into);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("not the expected JSON: " + e.getMessage() + "; " + this, e);
    }
  }

  @Override
  public String toString() {
    return "exit " + exitCode + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
  }
}
