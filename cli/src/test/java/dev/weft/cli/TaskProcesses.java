package dev.weft.cli;

import dev.weft.posix.Signals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The processes of exec tasks, found by scanning {@code /proc} for a marker argument unique to one
 * test ({@code sleep 300.123456} rather than {@code sleep 300}), so that neither other tests nor
 * other users' processes on this host are ever counted or signalled. A process that has exited but
 * not been reaped yet (a zombie) has no command line and is not counted: nothing of it runs.
 */
final class TaskProcesses {
  private static final Path PROC = Path.of("/proc");

  private TaskProcesses() {}

  /** A number of seconds for {@code sleep} that no other test uses: "300." and six digits. */
  static String marker() {
    return String.format("300.%06d", ThreadLocalRandom.current().nextInt(1_000_000));
  }

  /** One process found in /proc: its pid and its arguments, program first. */
  record TaskProcess(long pid, List<String> args) {
    String program() {
      return Path.of(args.getFirst()).getFileName().toString();
    }

    @Override
    public String toString() {
      return pid + " " + String.join(" ", args) + " (" + state(pid) + ")";
    }
  }

  /**
   * The live processes with an argument that contains {@code marker}, leaving out JVMs: a CLI JVM
   * that submitted the command carries the marker in its own arguments.
   */
  static List<TaskProcess> find(String marker) {
    List<TaskProcess> found = new ArrayList<>();
    try (Stream<Path> entries = Files.list(PROC)) {
      for (Path entry : (Iterable<Path>) entries::iterator) {
        String name = entry.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        List<String> args = commandLine(entry);
        if (!args.isEmpty()
            && !isJava(args.getFirst())
            && args.stream().anyMatch(a -> a.contains(marker))) {
          found.add(new TaskProcess(Long.parseLong(name), args));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return found;
  }

  /** The marked processes running {@code program} ("sleep", "sh"). */
  static List<TaskProcess> find(String marker, String program) {
    return find(marker).stream().filter(p -> p.program().equals(program)).toList();
  }

  /** The marked processes, one per line, for failure messages. */
  static String describe(String marker) {
    StringBuilder text = new StringBuilder("processes with ").append(marker).append(":\n");
    find(marker).forEach(p -> text.append("  ").append(p).append('\n'));
    return text.toString();
  }

  /** The process's state letter from /proc/PID/stat (R, S, T for stopped, Z...), or "gone". */
  static String state(long pid) {
    try {
      String stat = Files.readString(PROC.resolve(pid + "/stat"), StandardCharsets.UTF_8);
      // The command name in parentheses may contain spaces; the state follows the last ')'.
      return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch (NoSuchFileException e) {
      return "gone";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sends {@code signal} (INT, TERM, KILL, STOP or CONT) with kill(2), as weft itself does. */
  static void signal(long pid, String signal) {
    int number =
        switch (signal) {
          case "INT" -> Signals.SIGINT;
          case "TERM" -> Signals.SIGTERM;
          case "KILL" -> Signals.SIGKILL;
          case "STOP" -> Signals.SIGSTOP;
          case "CONT" -> Signals.SIGCONT;
          default -> throw new IllegalArgumentException("no signal named " + signal);
        };
    Signals.Result result = Signals.kill(pid, number);
    if (result != Signals.Result.SENT) {
      throw new AssertionError("kill(" + pid + ", SIG" + signal + "): " + result);
    }
  }

  /** SIGKILLs what is left with the marker, so a failed test leaves no process behind. */
  static List<TaskProcess> killAll(String marker) {
    List<TaskProcess> left = find(marker);
    for (TaskProcess p : left) {
      ProcessHandle.of(p.pid()).ifPresent(ProcessHandle::destroyForcibly);
    }
    return left;
  }

  private static List<String> commandLine(Path processDir) {
    try {
      byte[] bytes = Files.readAllBytes(processDir.resolve("cmdline"));
      if (bytes.length == 0) {
        return List.of();
      }
      return Arrays.asList(new String(bytes, StandardCharsets.UTF_8).split("\0"));
    } catch (IOException e) {
      // It exited while we looked (no such file, or ESRCH on reading), or it belongs to another
      // user who hides it: either way it is not a live process of ours.
      return List.of();
    }
  }

  private static boolean isJava(String program) {
    return program.equals("java") || program.endsWith("/java");
  }
}
