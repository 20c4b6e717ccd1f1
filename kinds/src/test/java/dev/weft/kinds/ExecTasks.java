package dev.weft.kinds;

import com.google.protobuf.ByteString;
import dev.weft.v1.ExecParams;
import dev.weft.v1.JobSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Exec tasks for the kinds' tests. */
final class ExecTasks {
  private ExecTasks() {}

  /** The input of the single task of an exec job running {@code command} in {@code workdir}. */
  static ByteString input(ExecKind kind, Path workdir, List<String> command)
      throws InvalidJobException, IOException {
    JobSpec spec =
        JobSpec.newBuilder()
            .setExec(ExecParams.newBuilder().addAllCommand(command).setWorkdir(workdir.toString()))
            .build();
    return kind.plan(spec).input(0);
  }

  /** The same for {@code sh -c script}. */
  static ByteString shell(ExecKind kind, Path workdir, String script)
      throws InvalidJobException, IOException {
    return input(kind, workdir, List.of("sh", "-c", script));
  }
}
