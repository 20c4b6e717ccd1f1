package dev.weft.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that runs weft again in a new JVM: this JVM's java binary, weft's JVM flags and
 * this JVM's class path (expanded by the java launcher, so {@code lib/*} of a distribution works).
 * Used for the worker processes that {@code weft demo} and {@code weft coordinator --local-workers}
 * start; they read no config file unless given {@code --config}.
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
    // The parent passes every option the new process needs; the user's config file is not for it.
    command.add("-D" + ConfigDefaults.SEARCH_PROPERTY + "=false");
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(weftArgs);
    return command;
  }
}
