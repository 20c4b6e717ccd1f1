package dev.weft.cli;

import dev.weft.kinds.PluginDir;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;

/** {@code --plugins DIR} of {@code weft coordinator} and {@code weft worker}. */
final class PluginOption {
  static final String DESCRIPTION =
      "Load the job kinds of every *.jar in DIR (not its subdirectories); DIR and its jars must be"
          + " writable only by their owner, this user or root (default: none).";

  private PluginOption() {}

  /** The built-in kinds plus DIR's; any problem is a usage error (exit 2) naming the file(s). */
  static PluginDir.Loaded load(Path dir) {
    try {
      return PluginDir.load(dir, PluginOption.class.getClassLoader());
    } catch (PluginDir.PluginException e) {
      throw new CliException(ExitCodes.USAGE, "--plugins: " + e.getMessage(), e);
    }
  }

  /** Says which plugin kinds a process loaded, and from which jar, at start. */
  static void print(PrintWriter out, PluginDir.Loaded loaded) {
    if (loaded.pluginKinds().isEmpty()) {
      out.println("plugins:        none in the plugin directory");
      return;
    }
    StringBuilder line = new StringBuilder("plugins:       ");
    for (Map.Entry<String, Path> kind : loaded.pluginKinds().entrySet()) {
      line.append(' ')
          .append(kind.getKey())
          .append(" (")
          .append(kind.getValue().getFileName())
          .append(')');
    }
    out.println(line);
  }
}
