package dev.weft.cli;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Another "host" for a test: a network namespace of its own, joined to the test's by a veth pair
 * with a /30 of private addresses, and nftables rules in it to cut links as a partition would.
 * Needs root, iproute2's ip and nft; {@link #make} skips the calling test, saying why, without
 * them. {@link #close} removes the pair and the namespace.
 */
final class TestNetns implements AutoCloseable {
  final String name;
  final String hostSide;
  final String nsSide;

  /** The test's end of the link, and the namespace's. */
  final String hostIp;

  final String nsIp;

  private TestNetns(String tag, String net) {
    String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(10_000, 99_999));
    int subnet = ThreadLocalRandom.current().nextInt(1, 250);
    this.name = "weft-" + tag + suffix;
    this.hostSide = "w" + tag + suffix + "a";
    this.nsSide = "w" + tag + suffix + "b";
    this.hostIp = net + "." + subnet + ".1";
    this.nsIp = net + "." + subnet + ".2";
  }

  /**
   * Makes a namespace named after {@code tag} (one letter: it names the links, at most 15
   * characters) on a /30 within {@code net} (the first two octets, e.g. {@code 10.252}).
   */
  static TestNetns make(String tag, String net) throws IOException, InterruptedException {
    assumeTrue(
        Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
        "skipped: iproute2's ip is not installed, so no network namespace can be made");
    assumeTrue(
        Files.isExecutable(Path.of("/usr/sbin/nft")) || Files.isExecutable(Path.of("/sbin/nft")),
        "skipped: nft (Debian package nftables) is not installed, so no partition can be made;"
            + " ./build test installs it when run as root");
    String uid = run(List.of("id", "-u")).strip();
    assumeTrue("0".equals(uid), "skipped: making network namespaces needs root, not uid " + uid);
    TestNetns netns = new TestNetns(tag, net);
    ip("netns", "add", netns.name);
    try {
      ip("link", "add", netns.hostSide, "type", "veth", "peer", "name", netns.nsSide);
      ip("link", "set", netns.nsSide, "netns", netns.name);
      ip("addr", "add", netns.hostIp + "/30", "dev", netns.hostSide);
      ip("link", "set", netns.hostSide, "up");
      netns.exec("ip", "addr", "add", netns.nsIp + "/30", "dev", netns.nsSide);
      netns.exec("ip", "link", "set", netns.nsSide, "up");
      netns.exec("ip", "link", "set", "lo", "up");
    } catch (IOException | AssertionError e) {
      netns.close();
      throw e;
    }
    return netns;
  }

  /** {@code ip netns exec NAME}: what runs a process inside. */
  List<String> prefix() {
    return List.of("ip", "netns", "exec", name);
  }

  /** Runs {@code command} inside the namespace; fails the test if it fails. */
  void exec(String... command) throws IOException, InterruptedException {
    List<String> all = new ArrayList<>(prefix());
    all.addAll(List.of(command));
    run(all);
  }

  /** Loads an nftables ruleset inside the namespace. */
  void nft(String rules) throws IOException, InterruptedException {
    Path file = Files.createTempFile("weft-netns", ".nft");
    try {
      Files.writeString(file, rules);
      exec("nft", "-f", file.toString());
    } finally {
      Files.delete(file);
    }
  }

  /** Deletes nftables table {@code table} (family inet) inside the namespace. */
  void deleteTable(String table) throws IOException, InterruptedException {
    exec("nft", "delete", "table", "inet", table);
  }

  @Override
  public void close() throws InterruptedException {
    // Deleting one end of a veth pair deletes both.
    runQuietly(List.of("ip", "link", "del", hostSide));
    runQuietly(List.of("ip", "netns", "del", name));
  }

  private static void ip(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("ip"));
    command.addAll(List.of(args));
    run(command);
  }

  static String run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " did not return");
    }
    if (process.exitValue() != 0) {
      throw new AssertionError(String.join(" ", command) + " failed: " + output.strip());
    }
    return output;
  }

  private static void runQuietly(List<String> command) throws InterruptedException {
    try {
      run(command);
    } catch (IOException | AssertionError e) {
      System.err.println("cleanup: " + e.getMessage());
    }
  }
}
