package dev.weft.coordinator;

import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.JobSpec;
import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The directories under which clients may have the coordinator read files (for {@code hash} jobs).
 * A client must not be able to make the coordinator read, say, its own keys: paths are resolved
 * with symbolic links followed, so a link inside a root that points outside is refused too.
 */
final class ReadableRoots {
  private final List<Path> roots;

  ReadableRoots(List<Path> roots) {
    this.roots = roots.stream().map(ReadableRoots::real).toList();
  }

  /** Throws naming {@code hash.path} when the spec reads a file outside every root. */
  void check(JobSpec spec) throws InvalidJobException {
    if (!spec.hasHash() || spec.getHash().getPath().isEmpty()) {
      return; // the kind names what is missing
    }
    String name = spec.getHash().getPath();
    Path path;
    try {
      path = Path.of(name).toAbsolutePath().toRealPath();
    } catch (InvalidPathException e) {
      throw new InvalidJobException("hash.path", "not a valid path: " + e.getMessage());
    } catch (NoSuchFileException e) {
      throw new InvalidJobException("hash.path", "no such file: " + name);
    } catch (IOException e) {
      throw new InvalidJobException("hash.path", "cannot resolve " + name + ": " + e.getMessage());
    }
    for (Path root : roots) {
      if (path.startsWith(root)) {
        return;
      }
    }
    throw new InvalidJobException(
        "hash.path",
        name
            + " is outside the directories this coordinator may read ("
            + roots.stream().map(Path::toString).collect(Collectors.joining(", "))
            + "); start it with --hash-root DIR to allow another");
  }

  private static Path real(Path root) {
    try {
      return root.toAbsolutePath().toRealPath();
    } catch (IOException e) {
      // A root that does not exist (yet) allows nothing but its own name.
      return root.toAbsolutePath().normalize();
    }
  }
}
