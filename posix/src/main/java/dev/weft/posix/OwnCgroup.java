package dev.weft.posix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * This process's cgroup in the cgroup v2 hierarchy, and what it limits; and its cgroups in the v1
 * hierarchies of hosts that bind controllers to v1 ("hybrid" or v1-only hosts). A process in no
 * hierarchy it can see (a container without /sys/fs/cgroup) has none: every answer is then empty,
 * never an error.
 */
public final class OwnCgroup {
  private static final Pattern OCTAL_ESCAPE = Pattern.compile("\\\\([0-7]{3})");

  private OwnCgroup() {}

  /**
   * The directory of this process's cgroup: the cgroup2 mount (from /proc/self/mountinfo) joined
   * with the path in /proc/self/cgroup's {@code 0::} line.
   */
  public static Optional<Path> directory() {
    try {
      Optional<String> own =
          Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
              .filter(line -> line.startsWith("0::/"))
              .map(line -> line.substring(3))
              .findFirst();
      Optional<Path> mount = cgroup2Mount(Files.readAllLines(Path.of("/proc/self/mountinfo")));
      if (own.isEmpty() || mount.isEmpty()) {
        return Optional.empty();
      }
      Path dir = mount.get().resolve(own.get().substring(1));
      return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
          ? Optional.of(dir)
          : Optional.empty();
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }

  /** The mount point of the cgroup2 file system whose root is the hierarchy's (or ns's) root. */
  public static Optional<Path> cgroup2Mount(List<String> mountinfo) {
    for (String line : mountinfo) {
      // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
      int separator = line.indexOf(" - ");
      if (separator < 0) {
        continue;
      }
      String[] before = line.substring(0, separator).split(" ");
      String[] after = line.substring(separator + 3).split(" ");
      if (before.length >= 5 && after.length >= 1 && after[0].equals("cgroup2")) {
        if (before[3].equals("/")) {
          return Optional.of(Path.of(unescape(before[4])));
        }
      }
    }
    return Optional.empty();
  }

  /**
   * The directory of this process's cgroup in the cgroup v1 hierarchy of {@code controller}
   * ("memory", "cpu"): empty where no v1 hierarchy of it is mounted (the controller is in the v2
   * hierarchy, or nowhere) or this process's cgroup in it is outside the mount.
   */
  public static Optional<Path> v1Directory(String controller) {
    try {
      return v1Directory(
              controller,
              Files.readAllLines(Path.of("/proc/self/mountinfo")),
              Files.readAllLines(Path.of("/proc/self/cgroup")))
          .filter(dir -> Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS));
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }

  /**
   * The directory of the cgroup that /proc/self/cgroup's line for {@code controller} names, under
   * the mount of that hierarchy in {@code mountinfo}: a cgroup (v1) file system whose super options
   * list the controller, as in {@code cgroup rw,cpu,cpuacct}. A mount of a subtree (a container's,
   * whose ROOT field is its cgroup) holds only the cgroups below that root.
   */
  static Optional<Path> v1Directory(
      String controller, List<String> mountinfo, List<String> procCgroup) {
    Optional<String> own = Optional.empty();
    for (String line : procCgroup) {
      // ID:CONTROLLERS:PATH, with PATH absolute within the hierarchy (or the cgroup namespace)
      String[] fields = line.split(":", 3);
      if (fields.length == 3
          && List.of(fields[1].split(",")).contains(controller)
          && fields[2].startsWith("/")) {
        own = Optional.of(fields[2]);
        break;
      }
    }
    if (own.isEmpty()) {
      return Optional.empty();
    }
    String path = own.get();
    for (String line : mountinfo) {
      int separator = line.indexOf(" - ");
      if (separator < 0) {
        continue;
      }
      String[] before = line.substring(0, separator).split(" ");
      String[] after = line.substring(separator + 3).split(" ");
      if (before.length < 5
          || after.length < 3
          || !after[0].equals("cgroup")
          || !List.of(after[2].split(",")).contains(controller)) {
        continue;
      }
      String root = unescape(before[3]);
      Path mount = Path.of(unescape(before[4]));
      if (root.equals("/")) {
        return Optional.of(mount.resolve(path.substring(1)));
      }
      if (path.equals(root)) {
        return Optional.of(mount);
      }
      if (path.startsWith(root + "/")) {
        return Optional.of(mount.resolve(path.substring(root.length() + 1)));
      }
    }
    return Optional.empty();
  }

  /** mountinfo writes space, tab, newline and backslash in paths as octal escapes. */
  private static String unescape(String field) {
    Matcher m = OCTAL_ESCAPE.matcher(field);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(
          out, Matcher.quoteReplacement(String.valueOf((char) Integer.parseInt(m.group(1), 8))));
    }
    m.appendTail(out);
    return out.toString();
  }

  /** The memory this process's cgroup may use ({@link #memoryMax(Path)} of its directory). */
  public static OptionalLong memoryMax() {
    return directory().map(OwnCgroup::memoryMax).orElse(OptionalLong.empty());
  }

  /**
   * The lowest {@code memory.max} of cgroup {@code dir} and its ancestors, which all bound what its
   * processes may use; empty when none sets a number ("max", or no memory controller).
   */
  public static OptionalLong memoryMax(Path dir) {
    OptionalLong lowest = OptionalLong.empty();
    // Every directory of the hierarchy has cgroup.controllers; the mount point's parent has not.
    for (Path cgroup = dir;
        cgroup != null && Files.exists(cgroup.resolve("cgroup.controllers"));
        cgroup = cgroup.getParent()) {
      OptionalLong max = readLimit(cgroup.resolve("memory.max"));
      if (max.isPresent() && (lowest.isEmpty() || max.getAsLong() < lowest.getAsLong())) {
        lowest = max;
      }
    }
    return lowest;
  }

  private static OptionalLong readLimit(Path file) {
    try {
      String text = Files.readString(file).strip();
      return text.equals("max") ? OptionalLong.empty() : OptionalLong.of(Long.parseLong(text));
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      // None here (the root cgroup, no memory controller) or unreadable: no bound known from it.
      return OptionalLong.empty();
    }
  }
}
