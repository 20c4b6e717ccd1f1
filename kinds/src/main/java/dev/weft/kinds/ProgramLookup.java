package dev.weft.kinds;

import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Finds the file execvp(3) would run for a program name, so a task whose program is missing fails
 * before anything is started, with the reason a shell would give.
 */
final class ProgramLookup {
  /** execvp's search path when PATH is unset (glibc's default). */
  static final String DEFAULT_SEARCH_PATH = "/bin:/usr/bin";

  private ProgramLookup() {}

  /**
   * As execvp: a name with a slash is a path (relative to {@code workdir}); any other name is
   * looked up in each directory of {@code searchPath} in turn, an empty entry meaning {@code
   * workdir}.
   *
   * @throws NoSuchFileException if no such file exists (ENOENT)
   * @throws AccessDeniedException if files of that name exist but none is an executable file
   *     (EACCES)
   */
  static Path resolve(String program, String searchPath, Path workdir)
      throws NoSuchFileException, AccessDeniedException {
    if (program.indexOf('/') >= 0) {
      Path file = workdir.resolve(program);
      if (isExecutableFile(file)) {
        return file;
      }
      if (Files.exists(file)) {
        throw new AccessDeniedException(program);
      }
      throw new NoSuchFileException(program);
    }
    boolean denied = false;
    for (String directory : searchPath.split(":", -1)) {
      Path file = (directory.isEmpty() ? workdir : workdir.resolve(directory)).resolve(program);
      if (isExecutableFile(file)) {
        return file;
      }
      // execvp goes on after EACCES, and reports it only when nothing later is found.
      denied |= Files.exists(file);
    }
    if (denied) {
      throw new AccessDeniedException(program);
    }
    throw new NoSuchFileException(program);
  }

  private static boolean isExecutableFile(Path file) {
    return Files.isRegularFile(file) && Files.isExecutable(file);
  }
}
