package dev.weft.cli;

import dev.weft.local.ShmConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What a test must not leave behind: child processes of this JVM, and shared-memory segments of the
 * coordinators it started. Segments are looked up by coordinator id ({@code
 * weft-<coordinatorId>-*}), so segments of other weft processes on this host never make a test
 * fail.
 */
final class Leftovers {
  static final Duration DEADLINE = Duration.ofSeconds(10);

  private Leftovers() {}

  /** The live processes this JVM started, directly or not. */
  static Set<Long> children() {
    return ProcessHandle.current()
        .descendants()
        .filter(ProcessHandle::isAlive)
        .map(ProcessHandle::pid)
        .collect(Collectors.toSet());
  }

  /** Waits until the live descendants of this JVM are exactly {@code expected}. */
  static void awaitChildren(Set<Long> expected, String what) throws InterruptedException {
    Await.until(what, DEADLINE, () -> children().equals(expected), Leftovers::describeChildren);
  }

  /** Waits until this JVM has no live descendant; kills what is left when the deadline passes. */
  static void awaitNoChildren() throws InterruptedException {
    Await.until(
        "every child process of the test JVM to exit",
        DEADLINE,
        () -> children().isEmpty(),
        () -> {
          String left = describeChildren();
          ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
          return left + "(now killed)";
        });
  }

  /** The segment files of one coordinator, sorted by name. */
  static List<Path> segmentsOf(String coordinatorId) {
    String prefix = ShmConfig.NAME_PREFIX + coordinatorId + "-";
    try (Stream<Path> files = Files.list(ShmConfig.DEFAULT_DIRECTORY)) {
      return files.filter(p -> p.getFileName().toString().startsWith(prefix)).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the coordinator's segments are exactly {@code expected}. */
  static void awaitSegments(String coordinatorId, List<Path> expected, String what)
      throws InterruptedException {
    Await.until(
        what,
        DEADLINE,
        () -> segmentsOf(coordinatorId).equals(expected),
        () -> "segments of coordinator " + coordinatorId + ": " + segmentsOf(coordinatorId));
  }

  static void awaitNoSegments(String coordinatorId) throws InterruptedException {
    awaitSegments(
        coordinatorId, List.of(), "every segment of coordinator " + coordinatorId + " to go");
  }

  private static String describeChildren() {
    StringBuilder out = new StringBuilder("live descendants of the test JVM:\n");
    ProcessHandle.current()
        .descendants()
        .filter(ProcessHandle::isAlive)
        .forEach(p -> out.append("  ").append(p.pid()).append(' ').append(p.info()).append('\n'));
    return out.toString();
  }
}
