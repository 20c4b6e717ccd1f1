package dev.weft.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that runs weft again in a new JVM: this JVM's java binary, weft's JVM flags and
 * this JVM's class path. Used for the worker processes that {@code weft demo} and {@code weft
 * coordinator --local-workers} start.
 */
final class WeftJvm {
  private WeftJvm() {}

  static List<String> command(List<String> weftArgs) {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> command = new ArrayList<>();
    command.add(java);
    command.addAll(BuildInfo.jvmFlags());
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(weftArgs);
    return command;
  }
}
