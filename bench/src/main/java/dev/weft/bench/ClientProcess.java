package dev.weft.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ClientProbe} in a process of its own: commands go to its stdin, answers come back from
 * its stdout (read by a thread of their own, so every wait has a deadline), its stderr joins ours.
 */
final class ClientProcess implements AutoCloseable {
  private static final String EOF = "\0eof";

  private final String name;
  private final Process process;
  private final Writer commands;
  private final LinkedBlockingQueue<String> answers = new LinkedBlockingQueue<>();

  /**
   * @param token the coordinator's client token, handed over in the environment (command lines are
   *     visible to every user)
   */
  ClientProcess(String name, List<String> command, String token) throws IOException {
    this.name = name;
    this.process =
        withToken(new ProcessBuilder(command), token)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    Thread.ofPlatform()
        .daemon()
        .name("bench-client-" + name)
        .start(
            () -> {
              try (BufferedReader out =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                  answers.add(line);
                }
              } catch (IOException e) {
                answers.add("error reading the bench client's output: " + e.getMessage());
              }
              answers.add(EOF);
            });
  }

  long pid() {
    return process.pid();
  }

  /** Sends {@code command} and returns the answer's {@code key=value} pairs. */
  Map<String, String> ask(String command, Duration deadline)
      throws IOException, InterruptedException {
    commands.write(command + "\n");
    commands.flush();
    String answer = answers.poll(deadline.toNanos(), TimeUnit.NANOSECONDS);
    if (answer == null) {
      throw new IOException(
          "the " + name + " bench client did not answer '" + command + "' within " + deadline);
    }
    if (answer.equals(EOF)) {
      boolean exited = process.waitFor(10, TimeUnit.SECONDS);
      throw new IOException(
          "the "
              + name
              + " bench client ended"
              + (exited ? " with exit code " + process.exitValue() : "")
              + " before answering '"
              + command
              + "'");
    }
    if (!answer.startsWith("ok")) {
      throw new IOException("the " + name + " bench client: " + answer);
    }
    Map<String, String> pairs = new HashMap<>();
    for (String word : answer.substring(2).strip().split("\\s+")) {
      int eq = word.indexOf('=');
      if (eq > 0) {
        pairs.put(word.substring(0, eq), word.substring(eq + 1));
      }
    }
    return pairs;
  }

  /** Ends its input, so it stops; kills it if it has not within a few seconds. */
  @Override
  public void close() throws IOException, InterruptedException {
    List<IOException> problems = new ArrayList<>();
    try {
      commands.close();
    } catch (IOException e) {
      problems.add(e); // the process may be gone already; it is reaped below either way
    }
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
    if (!problems.isEmpty() && process.isAlive()) {
      throw problems.getFirst();
    }
  }

  private static ProcessBuilder withToken(ProcessBuilder builder, String token) {
    builder.environment().put("WEFT_TOKEN", token);
    return builder;
  }
}
