package dev.weft.kinds;

import dev.weft.posix.ProcessStat;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Loads the {@link JobKind}s of every {@code *.jar} in a plugin directory (not recursive, sorted by
 * name) into one class loader whose parent is weft's. Every problem is a {@link PluginException}
 * naming the file(s), for the CLI to print and exit 2. A plugin runs as this process's user, so the
 * directory, its jars and every directory above it must be safe from other users.
 */
public final class PluginDir {
  private static final String SERVICE = "META-INF/services/" + JobKind.class.getName();
  private static final int GROUP_OR_OTHERS_WRITE = 0022;
  private static final int STICKY = 01000;

  /** A plugin directory that cannot be used; the message names the file(s) and why. */
  public static final class PluginException extends Exception {
    public PluginException(String message) {
      super(message);
    }

    public PluginException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The kinds found: the built-ins and the plugins, and which jar each plugin kind came from. */
  public record Loaded(JobKinds kinds, Map<String, Path> pluginKinds) {}

  private PluginDir() {}

  /**
   * Loads the built-in kinds visible to {@code parent} and the plugins in {@code dir}. The loader
   * is never closed: the kinds' classes live as long as the process.
   */
  public static Loaded load(Path dir, ClassLoader parent) throws PluginException {
    int uid =
        ProcessStat.ownerUid(ProcessHandle.current().pid())
            .orElseThrow(() -> new IllegalStateException("this process is not in /proc"));
    checkWritable(dir, true, uid);
    checkAncestors(dir, uid);
    List<Path> jars;
    try (Stream<Path> entries = Files.list(dir)) {
      jars = entries.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList();
    } catch (IOException e) {
      throw new PluginException("cannot list plugin directory " + dir + ": " + e, e);
    }
    List<URL> urls = new ArrayList<>();
    for (Path jar : jars) {
      checkWritable(jar, false, uid);
      if (!hasService(jar)) {
        throw new PluginException(jar + " is not a plugin: it declares no job kind in " + SERVICE);
      }
      try {
        urls.add(jar.toUri().toURL());
      } catch (MalformedURLException e) {
        throw new PluginException("cannot use " + jar + ": " + e, e);
      }
    }
    JobKinds builtIns = JobKinds.load(parent);
    URLClassLoader loader = new URLClassLoader("weft-plugins", urls.toArray(URL[]::new), parent);
    Map<String, JobKind> all = new LinkedHashMap<>(builtIns.byName());
    Map<String, Path> pluginKinds = new LinkedHashMap<>();
    // Per jar, so that each kind is tied to the jar that declares it, for the messages.
    for (Path jar : jars) {
      for (String className : providerNames(jar)) {
        JobKind kind = instantiate(jar, className, loader);
        String name = kind.name();
        if (builtIns.find(name).isPresent()) {
          throw new PluginException(
              jar + ": job kind '" + name + "' (" + className + ") clashes with a built-in kind");
        }
        Path other = pluginKinds.get(name);
        if (other != null) {
          throw new PluginException(
              "two plugins declare job kind '" + name + "': " + other + " and " + jar);
        }
        all.put(name, kind);
        pluginKinds.put(name, jar);
      }
    }
    return new Loaded(JobKinds.of(all), pluginKinds);
  }

  private static boolean hasService(Path jar) throws PluginException {
    try (JarFile file = new JarFile(jar.toFile())) {
      return file.getEntry(SERVICE) != null;
    } catch (IOException e) {
      throw new PluginException("cannot open plugin jar " + jar + ": " + e.getMessage(), e);
    }
  }

  private static List<String> providerNames(Path jar) throws PluginException {
    try (JarFile file = new JarFile(jar.toFile())) {
      String text = new String(file.getInputStream(file.getEntry(SERVICE)).readAllBytes(), "UTF-8");
      List<String> names = new ArrayList<>();
      for (String line : text.split("\n")) {
        int hash = line.indexOf('#');
        String name = (hash < 0 ? line : line.substring(0, hash)).strip();
        if (!name.isEmpty()) {
          names.add(name);
        }
      }
      if (names.isEmpty()) {
        throw new PluginException(jar + " is not a plugin: its " + SERVICE + " names no class");
      }
      return names;
    } catch (IOException e) {
      throw new PluginException("cannot read " + SERVICE + " in " + jar + ": " + e, e);
    }
  }

  private static JobKind instantiate(Path jar, String className, ClassLoader loader)
      throws PluginException {
    try {
      Class<?> type = Class.forName(className, false, loader);
      if (!JobKind.class.isAssignableFrom(type)) {
        throw new PluginException(
            jar + ": " + className + " does not implement " + JobKind.class.getName());
      }
      return (JobKind) type.getConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
      Throwable why =
          e instanceof java.lang.reflect.InvocationTargetException ite ? ite.getCause() : e;
      throw new PluginException(jar + ": cannot load job kind " + className + ": " + why, why);
    }
  }

  /**
   * Refuses a directory or jar that another user could write: a plugin runs as this process's user.
   * Files owned by root or by this user qualify when group and others cannot write them.
   */
  private static void checkWritable(Path path, boolean directory, int uid) throws PluginException {
    PosixFileAttributes attributes;
    int owner;
    try {
      attributes = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      owner = (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new PluginException(
          (directory ? "plugin directory " : "plugin jar ") + path + " does not exist", e);
    } catch (IOException | UnsupportedOperationException e) {
      throw new PluginException("cannot read the attributes of " + path + ": " + e, e);
    }
    if (directory ? !attributes.isDirectory() : !attributes.isRegularFile()) {
      throw new PluginException(
          path
              + " is not a "
              + (directory ? "directory" : "regular file (symbolic links are refused)"));
    }
    java.util.Set<PosixFilePermission> permissions = attributes.permissions();
    if ((owner != uid && owner != 0)
        || permissions.contains(PosixFilePermission.GROUP_WRITE)
        || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
      throw new PluginException(
          path
              + " must be owned by "
              + (uid == 0 ? "root" : "uid " + uid + " or root")
              + " and writable by its owner only: a plugin runs as this user (it is owned"
              + " by uid "
              + owner
              + ", mode "
              + PosixFilePermissions.toString(permissions)
              + ")");
    }
  }

  /**
   * Refuses a plugin directory that another user could swap for one of theirs: whoever may write a
   * directory above it may rename what is inside, unless the directory is sticky (as /tmp), where
   * only an entry's owner may. So every directory above it must be owned by this user or root, and
   * writable by group or others only with the sticky bit, as ssh's StrictModes asks of the
   * directories above authorized_keys. Both the directories of the path as given and those its
   * symbolic links lead to are checked.
   */
  private static void checkAncestors(Path dir, int uid) throws PluginException {
    Set<Path> ancestors = new LinkedHashSet<>();
    for (Path given = dir.toAbsolutePath().getParent(); given != null; given = given.getParent()) {
      Path real;
      try {
        real = given.toRealPath();
      } catch (IOException e) {
        throw new PluginException(
            "cannot resolve " + given + ", above plugin directory " + dir + ": " + e, e);
      }
      // Once a directory was seen, so were all the directories above it.
      Path above = real;
      while (above != null && ancestors.add(above)) {
        above = above.getParent();
      }
    }
    for (Path ancestor : ancestors) {
      int owner;
      int mode;
      try {
        owner = (Integer) Files.getAttribute(ancestor, "unix:uid");
        mode = (Integer) Files.getAttribute(ancestor, "unix:mode");
      } catch (IOException | UnsupportedOperationException e) {
        throw new PluginException(
            "cannot read the attributes of "
                + ancestor
                + ", above plugin directory "
                + dir
                + ": "
                + e,
            e);
      }
      if (owner != uid && owner != 0) {
        throw new PluginException(
            "plugin directory "
                + dir
                + " is inside "
                + ancestor
                + ", which is owned by uid "
                + owner
                + ": its owner could put other plugins in the directory's place, and a plugin runs"
                + " as this user; use a plugin directory all of whose parents are owned by "
                + (uid == 0 ? "root" : "uid " + uid + " or root"));
      }
      if ((mode & GROUP_OR_OTHERS_WRITE) != 0 && (mode & STICKY) == 0) {
        throw new PluginException(
            "plugin directory "
                + dir
                + " is inside "
                + ancestor
                + ", which group or others may write (mode "
                + String.format("%04o", mode & 07777)
                + ", not sticky): they could put other plugins in the directory's place, and a"
                + " plugin runs as this user; run chmod go-w "
                + ancestor
                + " (or chmod +t), or use another plugin directory");
      }
    }
  }
}
