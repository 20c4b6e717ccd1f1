package dev.weft.cli;

import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.PostgresTarget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * {@code weft coordinator --journal}: {@code sqlite} (the default, in the data dir) or a PostgreSQL
 * URL. The database's password is never taken from the command line or the URL (both show in {@code
 * ps} and shell history): it comes from {@code --journal-password-file FILE}, a file only its owner
 * may read, else from {@value #PASSWORD_ENV}; with neither, none is sent.
 */
final class JournalOption {
  static final String PASSWORD_ENV = "WEFT_JOURNAL_PASSWORD";
  static final String SQLITE = "sqlite";

  private JournalOption() {}

  /** Sets {@code config}'s journal from the options; bad ones throw a usage error saying why. */
  static void apply(
      CoordinatorConfig config, String journal, Path passwordFile, Map<String, String> env) {
    if (journal == null || journal.equals(SQLITE)) {
      if (passwordFile != null) {
        throw CliException.usage(
            "--journal-password-file goes with --journal " + PostgresTarget.FORM);
      }
      return;
    }
    PostgresTarget target;
    try {
      target = PostgresTarget.parse(journal);
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    String password = passwordFile != null ? readPasswordFile(passwordFile) : env.get(PASSWORD_ENV);
    if (password != null && password.isEmpty()) {
      password = null;
    }
    config.postgresJournal(target, password);
  }

  /** The file's first line; refused when others may read it. */
  static String readPasswordFile(Path file) {
    Set<PosixFilePermission> mode;
    String content;
    try {
      mode = Files.getPosixFilePermissions(file);
      if (mode.contains(PosixFilePermission.GROUP_READ)
          || mode.contains(PosixFilePermission.OTHERS_READ)) {
        throw CliException.usage(
            "--journal-password-file "
                + file
                + " can be read by others (mode "
                + PosixFilePermissions.toString(mode)
                + "); make it private to its owner: chmod 600 "
                + file);
      }
      content = Files.readString(file);
    } catch (IOException e) {
      throw CliException.usage(
          "--journal-password-file: cannot read " + file + " (" + e.getMessage() + ")");
    }
    int end = content.indexOf('\n');
    String password = (end < 0 ? content : content.substring(0, end)).strip();
    if (password.isEmpty()) {
      throw CliException.usage(
          "--journal-password-file " + file + " is empty; its first line is the password");
    }
    return password;
  }
}
