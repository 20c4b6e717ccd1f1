package dev.weft.coordinator;

import dev.weft.coordinator.security.LocalDoor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The coordinator's services on a Unix domain socket, behind the {@link LocalDoor}: callers are
 * known by their uid, which the kernel reports per connection. The socket file is mode 0600 (only
 * the coordinator's user may connect), or 0666 when other users were granted with {@code
 * --allow-uid} (then the door is the uid check, and the path must be reachable by them). A socket
 * file left by a coordinator that died is replaced; one that a live process serves, or a file that
 * is not a socket, is not touched. The file is removed when the server stops, if it is still ours.
 */
final class UnixSocketServer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(UnixSocketServer.class.getName());
  // sun_path holds 108 bytes on Linux, its terminating NUL included.
  static final int MAX_PATH_BYTES = 107;

  private final Path path;
  private final Server server;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final Object fileKey;

  private UnixSocketServer(
      Path path, Server server, EventLoopGroup boss, EventLoopGroup workers, Object fileKey) {
    this.path = path;
    this.server = server;
    this.boss = boss;
    this.workers = workers;
    this.fileKey = fileKey;
  }

  /**
   * Binds {@code path} and serves {@code services} there behind {@code door}; fails with a message
   * naming the path when it cannot.
   */
  static UnixSocketServer start(
      Path path, LocalDoor door, int maxInboundBytes, List<ServerServiceDefinition> services)
      throws IOException {
    Path socket = path.toAbsolutePath();
    if (!Epoll.isAvailable()) {
      throw new IOException(
          "Unix sockets need Linux's epoll, which is not available here: "
              + Epoll.unavailabilityCause());
    }
    int bytes = socket.toString().getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_PATH_BYTES) {
      throw new IOException(
          "the path is "
              + bytes
              + " bytes long; a Unix socket's may be at most "
              + MAX_PATH_BYTES
              + ": choose a shorter one with --socket PATH");
    }
    removeStale(socket);
    EventLoopGroup boss = new EpollEventLoopGroup(1, daemon("weft-socket-accept"));
    EventLoopGroup workers = new EpollEventLoopGroup(1, daemon("weft-socket"));
    Server server;
    try {
      NettyServerBuilder builder =
          NettyServerBuilder.forAddress(
                  new DomainSocketAddress(socket.toString()), LocalDoor.credentials())
              .channelType(EpollServerDomainSocketChannel.class)
              .bossEventLoopGroup(boss)
              .workerEventLoopGroup(workers)
              .maxInboundMessageSize(maxInboundBytes)
              .maxInboundMetadataSize(64 * 1024)
              .handshakeTimeout(10, TimeUnit.SECONDS)
              .permitKeepAliveTime(5, TimeUnit.SECONDS)
              .permitKeepAliveWithoutCalls(true)
              .directExecutor()
              .intercept(door);
      services.forEach(builder::addService);
      server = builder.build().start();
      Files.setPosixFilePermissions(
          socket, PosixFilePermissions.fromString(door.grantsOthers() ? "rw-rw-rw-" : "rw-------"));
    } catch (IOException | RuntimeException e) {
      boss.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
    Object key =
        Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
            .fileKey();
    return new UnixSocketServer(socket, server, boss, workers, key);
  }

  /** A socket file nothing serves any more (a coordinator that died) is removed; others fail. */
  private static void removeStale(Path socket) throws IOException {
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!isSocket(socket)) {
      throw new IOException("it exists and is not a socket; remove it or choose another path");
    }
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      probe.connect(UnixDomainSocketAddress.of(socket));
      throw new IOException(
          "another process serves it (another coordinator?); stop it or choose another path");
    } catch (java.net.ConnectException e) {
      // Nobody listens: left by a process that died.
      Files.deleteIfExists(socket);
      LOG.log(System.Logger.Level.INFO, "replaced the stale socket {0}", socket);
    }
  }

  private static boolean isSocket(Path file) throws IOException {
    int mode = (Integer) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    return (mode & 0170000) == 0140000; // S_IFSOCK
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return runnable -> Thread.ofPlatform().name(name).daemon(true).unstarted(runnable);
  }

  Path path() {
    return path;
  }

  Server server() {
    return server;
  }

  void shutdown() {
    server.shutdown();
  }

  boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return server.awaitTermination(timeout, unit);
  }

  /** Stops at once, releases its threads and removes the socket file if it is still ours. */
  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    try {
      Object now =
          Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
              .fileKey();
      if (Objects.equals(now, fileKey)) {
        Files.deleteIfExists(path);
      }
    } catch (java.nio.file.NoSuchFileException e) {
      // Already gone.
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove {0}: {1}", path, e.getMessage());
    }
  }
}
