package dev.weft.worker;

import dev.weft.posix.OwnCgroup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The memory a worker offers its tasks unless told otherwise: what its cgroup lets it use (the
 * lowest {@code memory.max} up its cgroup v2 hierarchy), bounded by the host's memory.
 */
final class WorkerMemory {
  private static final Pattern MEM_TOTAL = Pattern.compile("MemTotal:\\s+(\\d{1,15})\\s+kB");

  private WorkerMemory() {}

  static long detect() {
    OptionalLong host;
    try {
      host = memTotal(Files.readAllLines(Path.of("/proc/meminfo")));
    } catch (IOException | UncheckedIOException e) {
      host = OptionalLong.empty(); // no /proc here: the JVM's own figure below
    }
    long total =
        host.orElseGet(
            () ->
                ((com.sun.management.OperatingSystemMXBean)
                        ManagementFactory.getOperatingSystemMXBean())
                    .getTotalMemorySize());
    OptionalLong cgroup = OwnCgroup.memoryMax();
    return cgroup.isPresent() ? Math.min(cgroup.getAsLong(), total) : total;
  }

  /** MemTotal of /proc/meminfo, in bytes. */
  static OptionalLong memTotal(List<String> meminfo) {
    for (String line : meminfo) {
      Matcher m = MEM_TOTAL.matcher(line);
      if (m.matches()) {
        return OptionalLong.of(Long.parseLong(m.group(1)) * 1024);
      }
    }
    return OptionalLong.empty();
  }
}
