package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobSpec;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PluginDirTest {
  @TempDir Path dir;

  /** A kind the test jars name; its class comes from the parent loader, which is enough here. */
  public static class Extra implements JobKind {
    @Override
    public String name() {
      return "extra";
    }

    @Override
    public TaskPlan plan(JobSpec spec) {
      throw new UnsupportedOperationException("not planned in this test");
    }

    @Override
    public ByteString run(ByteString input, TaskContext context) {
      return input;
    }

    @Override
    public JobReduction reduction(JobSpec spec, TaskPlan plan) {
      throw new UnsupportedOperationException("not reduced in this test");
    }
  }

  /** A provider that cannot be constructed. */
  public static final class Exploding extends Extra {
    public Exploding() {
      throw new IllegalStateException("no licence key");
    }
  }

  @BeforeEach
  void privateDir() throws IOException {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
  }

  private Path jar(String name, String services) throws IOException {
    Path jar = dir.resolve(name);
    try (OutputStream out = Files.newOutputStream(jar);
        JarOutputStream jarOut = new JarOutputStream(out)) {
      if (services != null) {
        jarOut.putNextEntry(new JarEntry("META-INF/services/" + JobKind.class.getName()));
        jarOut.write(services.getBytes(StandardCharsets.UTF_8));
        jarOut.closeEntry();
      }
    }
    Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-r--r--"));
    return jar;
  }

  private String failure(Path pluginDir) {
    return assertThrows(
            PluginDir.PluginException.class,
            () -> PluginDir.load(pluginDir, getClass().getClassLoader()))
        .getMessage();
  }

  @Test
  void loadsThePluginKindsBesideTheBuiltIns() throws Exception {
    Path jar = jar("extra.jar", "# a comment\n" + Extra.class.getName() + "\n");
    PluginDir.Loaded loaded = PluginDir.load(dir, getClass().getClassLoader());
    assertEquals(jar, loaded.pluginKinds().get("extra"));
    assertEquals(1, loaded.pluginKinds().size());
    assertTrue(loaded.kinds().names().containsAll(JobKinds.load().names()));
    assertEquals("extra", loaded.kinds().find("extra").orElseThrow().name());
  }

  @Test
  void anEmptyDirectoryAddsNothing() throws Exception {
    assertEquals(0, PluginDir.load(dir, getClass().getClassLoader()).pluginKinds().size());
  }

  @Test
  void twoJarsWithOneKindNameAreNamedBoth() throws Exception {
    Path a = jar("a.jar", Extra.class.getName());
    Path b = jar("b.jar", Extra.class.getName());
    assertEquals("two plugins declare job kind 'extra': " + a + " and " + b, failure(dir));
  }

  @Test
  void aKindNamedLikeABuiltInIsRefused() throws Exception {
    Path a = jar("a.jar", NoopKind.class.getName());
    assertEquals(
        a + ": job kind 'noop' (dev.weft.kinds.NoopKind) clashes with a built-in kind",
        failure(dir));
  }

  @Test
  void aJarWithoutAKindIsNotAPlugin() throws Exception {
    Path empty = jar("empty.jar", null);
    assertEquals(
        empty
            + " is not a plugin: it declares no job kind in META-INF/services/"
            + JobKind.class.getName(),
        failure(dir));
  }

  @Test
  void aFileThatIsNotAJarCannotBeOpened() throws Exception {
    Path bad = dir.resolve("bad.jar");
    Files.writeString(bad, "not a zip");
    Files.setPosixFilePermissions(bad, PosixFilePermissions.fromString("rw-------"));
    assertTrue(failure(dir).startsWith("cannot open plugin jar " + bad + ": "), failure(dir));
  }

  @Test
  void providersThatDoNotLoadSayWhy() throws Exception {
    jar("missing.jar", "com.example.Missing");
    assertTrue(failure(dir).contains("cannot load job kind com.example.Missing"), failure(dir));
    Files.delete(dir.resolve("missing.jar"));
    jar("broken.jar", Exploding.class.getName());
    assertTrue(
        failure(dir).endsWith("java.lang.IllegalStateException: no licence key"), failure(dir));
    Files.delete(dir.resolve("broken.jar"));
    jar("other.jar", String.class.getName());
    assertTrue(
        failure(dir).endsWith("does not implement " + JobKind.class.getName()), failure(dir));
  }

  @Test
  void aMissingDirectoryOrAFileIsRefused() throws Exception {
    assertEquals(
        "plugin directory " + dir.resolve("nope") + " does not exist",
        failure(dir.resolve("nope")));
    Path file = jar("x.jar", Extra.class.getName());
    assertEquals(file + " is not a directory", failure(file));
  }

  @Test
  void aDirectoryOrJarOthersCanWriteIsRefused() throws Exception {
    Path jar = jar("extra.jar", Extra.class.getName());
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxr-x"));
    assertTrue(failure(dir).startsWith(dir + " must be owned by "), failure(dir));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-rw-rw-"));
    assertTrue(failure(dir).startsWith(jar + " must be owned by "), failure(dir));
  }

  @Test
  void aDirectoryInsideOneOthersCanWriteIsRefusedUnlessItIsSticky() throws Exception {
    Path shared = Files.createDirectory(dir.resolve("shared"));
    Path plugins = Files.createDirectory(shared.resolve("plugins"));
    jar("extra.jar", Extra.class.getName());
    Files.move(dir.resolve("extra.jar"), plugins.resolve("extra.jar"));
    Files.setAttribute(shared, "unix:mode", 0777);
    assertEquals(
        "plugin directory "
            + plugins
            + " is inside "
            + shared
            + ", which group or others may write (mode 0777, not sticky): they could put other"
            + " plugins in the directory's place, and a plugin runs as this user; run chmod go-w "
            + shared
            + " (or chmod +t), or use another plugin directory",
        failure(plugins));
    // Through a link, the directory it leads to is checked as well.
    Path link = Files.createSymbolicLink(dir.resolve("link"), shared);
    assertTrue(
        failure(link.resolve("plugins")).contains(" is inside " + shared + ", which group or"),
        failure(link.resolve("plugins")));
    // In a sticky directory (as /tmp) only an entry's owner may rename it.
    Files.setAttribute(shared, "unix:mode", 01777);
    assertEquals(
        plugins.resolve("extra.jar"),
        PluginDir.load(plugins, getClass().getClassLoader()).pluginKinds().get("extra"));
    Files.setAttribute(shared, "unix:mode", 0775);
    assertTrue(failure(plugins).contains("(mode 0775, not sticky)"), failure(plugins));
    Files.setAttribute(shared, "unix:mode", 0755);
    assertEquals(1, PluginDir.load(plugins, getClass().getClassLoader()).pluginKinds().size());
  }

  @Test
  void aDirectoryInsideOneAnotherUserOwnsIsRefused() throws Exception {
    int uid = (Integer) Files.getAttribute(dir, "unix:uid");
    assumeTrue(uid == 0, "only root can give a directory to another user");
    Path theirs = Files.createDirectory(dir.resolve("theirs"));
    Path plugins = Files.createDirectory(theirs.resolve("plugins"));
    Files.setAttribute(theirs, "unix:uid", 4242);
    assertEquals(
        "plugin directory "
            + plugins
            + " is inside "
            + theirs
            + ", which is owned by uid 4242: its owner could put other plugins in the directory's"
            + " place, and a plugin runs as this user; use a plugin directory all of whose parents"
            + " are owned by root",
        failure(plugins));
    Files.setAttribute(theirs, "unix:uid", 0);
    assertEquals(0, PluginDir.load(plugins, getClass().getClassLoader()).pluginKinds().size());
  }
}
