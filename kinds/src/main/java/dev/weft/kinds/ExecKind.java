package dev.weft.kinds;

import com.google.common.base.Suppliers;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecResult;
import dev.weft.v1.ExecTask;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.StopOutcome;
import java.io.File;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * {@code exec}: runs a command as a child process per task, with {@code {}} in any word replaced by
 * the task's input (as {@code xargs -I{}} and GNU parallel do), or the input appended as a last
 * word when no word has {@code {}}. No shell is involved.
 *
 * <p>Each task runs in a process group of its own ({@link ProcessGroup}), and where the worker may
 * make cgroups in a cgroup of its own too ({@link TaskCgroups}), which is the task: a cancel sends
 * it SIGTERM, then SIGKILL after the grace period, and whatever it leaves running when its leader
 * exits is killed. A task's cgroup is bounded by the memory and CPU it asked for ({@link
 * TaskResources}; one the OOM killer ended fails saying so), and a task given GPUs sees only those
 * in {@code CUDA_VISIBLE_DEVICES}. {@link #run} must be called on a thread that outlives the task
 * (a platform thread; from a virtual thread a platform thread is started for it), because the
 * leader is killed when the thread that started it ends.
 */
public final class ExecKind implements JobKind {
  private static final System.Logger LOG = System.getLogger(ExecKind.class.getName());
  static final String PLACEHOLDER = "{}";

  /**
   * Names the worker's own settings go by (its join token, TLS key files, the coordinator): a task
   * never sees them, and a job may not set them.
   */
  static final String RESERVED_ENV_PREFIX = "WEFT_";

  /** Exit code reported for a command that could not be started, as a shell reports one. */
  static final int CANNOT_START_EXIT = 127;

  /** Which GPUs a CUDA program may use: the task's, given by the coordinator. */
  static final String GPU_ENV = "CUDA_VISIBLE_DEVICES";

  // Once the group is gone its pipes close within moments, unless a process that left the group
  // (a setsid of its own) still holds them; then the task ends without the rest of the output.
  private static final Duration DRAIN_AFTER_EXIT = Duration.ofSeconds(2);
  private static final int MAX_MESSAGE_LINE = 200;
  // The OS's reason in ProcessBuilder's messages: "error=2, No such file or directory" (JDK 21)
  // or "Exec failed, error: 2 (No such file or directory)" (JDK 25).
  private static final Pattern ERRNO_REASON =
      Pattern.compile("error=\\d+, (.+?)\\s*$|error: \\d+ \\((.+?)\\)\\s*$");

  private final Supplier<GroupLauncher> launchers;
  private final Supplier<TaskProcessGroups> registries;
  private final Supplier<Optional<TaskCgroups>> cgroups;
  private final AtomicBoolean warnedUnbounded = new AtomicBoolean();

  public ExecKind() {
    // Looked up on the first task: the coordinator loads this kind too, but runs no task.
    this(
        GroupLauncher::systemDefault,
        Suppliers.memoize(TaskProcessGroups::forThisProcess),
        Suppliers.memoize(TaskCgroups::forThisProcess));
  }

  ExecKind(
      Supplier<GroupLauncher> launchers,
      Supplier<TaskProcessGroups> registries,
      Supplier<Optional<TaskCgroups>> cgroups) {
    this.launchers = launchers;
    this.registries = registries;
    this.cgroups = cgroups;
  }

  @Override
  public String name() {
    return "exec";
  }

  @Override
  public TaskPlan plan(JobSpec spec) throws InvalidJobException {
    if (!spec.hasExec()) {
      throw new InvalidJobException("params", "an exec job needs exec parameters");
    }
    ExecParams params = spec.getExec();
    TaskCount.checkFields(spec);
    if (spec.getTaskSize() != 0) {
      throw new InvalidJobException(
          "task_size",
          "not used by exec jobs, which run one task per input; set exec.inputs or tasks (got "
              + spec.getTaskSize()
              + ")");
    }
    checkCommand(params.getCommandList());
    List<String> inputs = params.getInputsList();
    if (inputs.size() > JobKinds.MAX_TASKS) {
      throw new InvalidJobException(
          "exec.inputs",
          "at most " + JobKinds.MAX_TASKS + " inputs per job (got " + inputs.size() + ")");
    }
    if (!inputs.isEmpty() && spec.getTasks() != 0 && spec.getTasks() != inputs.size()) {
      throw new InvalidJobException(
          "tasks",
          "exec runs one task per input; leave tasks at 0 when exec.inputs is set (got tasks="
              + spec.getTasks()
              + " with "
              + inputs.size()
              + " inputs)");
    }
    for (int i = 0; i < inputs.size(); i++) {
      if (inputs.get(i).indexOf('\0') >= 0) {
        throw new InvalidJobException(
            "exec.inputs", "the input at index " + i + " contains a NUL character");
      }
    }
    if (params.getWorkdir().indexOf('\0') >= 0) {
      throw new InvalidJobException("exec.workdir", "contains a NUL character");
    }
    for (Map.Entry<String, String> variable : params.getEnvMap().entrySet()) {
      String name = variable.getKey();
      if (name.isEmpty() || name.indexOf('=') >= 0 || name.indexOf('\0') >= 0) {
        throw new InvalidJobException(
            "exec.env",
            "variable names must be non-empty, without '=' or NUL (got '" + name + "')");
      }
      if (variable.getValue().indexOf('\0') >= 0) {
        throw new InvalidJobException(
            "exec.env", "the value of " + name + " contains a NUL character");
      }
      if (name.startsWith(RESERVED_ENV_PREFIX)) {
        throw new InvalidJobException(
            "exec.env",
            "names starting with "
                + RESERVED_ENV_PREFIX
                + " are weft's own settings, which tasks never see; choose another name (got '"
                + name
                + "')");
      }
    }
    int tasks = inputs.isEmpty() ? Math.max(1, spec.getTasks()) : inputs.size();
    return new Plan(params, tasks);
  }

  private static void checkCommand(List<String> command) throws InvalidJobException {
    if (command.isEmpty()) {
      throw new InvalidJobException(
          "exec.command", "must name a program to run (got an empty command)");
    }
    if (command.getFirst().isBlank()) {
      throw new InvalidJobException(
          "exec.command", "the first word must name a program (got '" + command.getFirst() + "')");
    }
    for (int i = 0; i < command.size(); i++) {
      if (command.get(i).indexOf('\0') >= 0) {
        throw new InvalidJobException(
            "exec.command", "the word at index " + i + " contains a NUL character");
      }
    }
  }

  /** The input of task {@code task}: its entry of {@code exec.inputs}, or else its index. */
  static String inputOf(ExecParams params, int task) {
    return params.getInputsCount() == 0 ? Integer.toString(task) : params.getInputs(task);
  }

  /** The command line of one task: placeholders replaced, or the input appended if it has none. */
  static List<String> argv(List<String> command, String input, boolean appendWhenUnused) {
    List<String> argv = new ArrayList<>(command.size() + 1);
    boolean used = false;
    for (String word : command) {
      if (word.contains(PLACEHOLDER)) {
        used = true;
        argv.add(word.replace(PLACEHOLDER, input));
      } else {
        argv.add(word);
      }
    }
    if (!used && appendWhenUnused) {
      argv.add(input);
    }
    return argv;
  }

  @Override
  public ByteString run(ByteString input, TaskContext context)
      throws TaskFailedException, InterruptedException {
    ExecTask task;
    try {
      task = ExecTask.parseFrom(input);
    } catch (InvalidProtocolBufferException e) {
      throw new TaskFailedException("exec: task input is not an ExecTask: " + e.getMessage());
    }
    if (task.getArgvCount() == 0 || task.getArgv(0).isBlank()) {
      throw new TaskFailedException("exec: task has no command");
    }
    String program = task.getArgv(0);
    ProcessBuilder builder =
        new ProcessBuilder().redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Path workdir = Path.of("").toAbsolutePath();
    if (!task.getWorkdir().isEmpty()) {
      if (!isDirectory(task.getWorkdir())) {
        throw cannotStart(context, program, "no such working directory: " + task.getWorkdir());
      }
      workdir = workdir.resolve(task.getWorkdir());
      builder.directory(workdir.toFile());
    }
    Map<String, String> environment = builder.environment();
    // The worker's environment may hold its join token (a local worker's comes from the
    // coordinator that way) and the names of its TLS key files: none of it is the task's business.
    environment.keySet().removeIf(name -> name.startsWith(RESERVED_ENV_PREFIX));
    String workerGpus = environment.get(GPU_ENV);
    for (Map.Entry<String, String> variable : task.getEnvMap().entrySet()) {
      // The coordinator refuses such jobs; a task from one that does not is refused here too.
      if (variable.getKey().startsWith(RESERVED_ENV_PREFIX)) {
        throw cannotStart(
            context,
            program,
            "the task sets "
                + variable.getKey()
                + ", and "
                + RESERVED_ENV_PREFIX
                + "* are the"
                + " worker's own settings");
      }
      environment.put(variable.getKey(), variable.getValue());
    }
    TaskResources resources = context.resources();
    if (!resources.gpus().isEmpty()) {
      try {
        environment.put(GPU_ENV, visibleDevices(resources.gpus(), workerGpus));
      } catch (IllegalArgumentException e) {
        throw cannotStart(context, program, e.getMessage());
      }
    }
    checkRunnable(context, program, environment.get("PATH"), workdir);
    GroupLauncher launcher = launchers.get();
    if (!launcher.canLaunch()) {
      throw cannotStart(context, program, GroupLauncher.NO_SETSID);
    }
    List<String> command = launcher.command(task.getArgvList());

    if (context.isCancelled() || Thread.interrupted()) {
      throw new TaskCancelledException(StopOutcome.STOPPED, "cancelled before it started");
    }
    long started = System.nanoTime();
    TaskCgroup cgroup = cgroups.get().flatMap(all -> all.create(resources)).orElse(null);
    if (cgroup == null
        && (resources.memBytes() > 0 || resources.cpuMillis() > 0)
        && warnedUnbounded.compareAndSet(false, true)) {
      LOG.log(
          System.Logger.Level.WARNING,
          "exec tasks run without the memory and CPU bounds they ask for: this worker cannot give"
              + " them cgroups of their own (see the earlier log line on cgroups)");
    }
    builder.command(cgroup == null ? command : cgroup.enter(command));
    ProcessGroup group;
    try {
      group = ProcessGroup.start(builder, registries.get(), cgroup);
    } catch (IOException e) {
      throw cannotStart(context, program, startFailureReason(e));
    }
    try (group) {
      return await(group, cgroup, resources, context, started);
    }
  }

  /**
   * {@code CUDA_VISIBLE_DEVICES} for a task given the worker's GPUs {@code gpus}: their indices, or
   * the entries at those indices of the worker's own {@code CUDA_VISIBLE_DEVICES} when it was
   * started with one (which CUDA reads afresh in the task, so indices would name other GPUs).
   *
   * @throws IllegalArgumentException when an index is beyond the worker's own list
   */
  static String visibleDevices(List<Integer> gpus, String workerDevices) {
    if (workerDevices == null || workerDevices.isBlank()) {
      return gpus.stream().map(String::valueOf).collect(Collectors.joining(","));
    }
    List<String> own = Arrays.stream(workerDevices.split(",")).map(String::strip).toList();
    List<String> visible = new ArrayList<>(gpus.size());
    for (int gpu : gpus) {
      if (gpu >= own.size()) {
        throw new IllegalArgumentException(
            "the task was given GPU "
                + gpu
                + ", but this worker sees only "
                + own.size()
                + " ("
                + GPU_ENV
                + "="
                + workerDevices
                + "); give it no more with --resources gpu=N");
      }
      visible.add(own.get(gpu));
    }
    return String.join(",", visible);
  }

  /** Waits for the task's end or its cancellation, whichever comes first. */
  private static ByteString await(
      ProcessGroup group,
      TaskCgroup cgroup,
      TaskResources resources,
      TaskContext context,
      long started)
      throws TaskFailedException, TaskCancelledException {
    Process leader = group.leader();
    OutputTail stdout =
        OutputTail.start(
            leader.getInputStream(),
            "exec-stdout-" + leader.pid(),
            context.openLog(LogStream.STDOUT));
    OutputTail stderr =
        OutputTail.start(
            leader.getErrorStream(),
            "exec-stderr-" + leader.pid(),
            context.openLog(LogStream.STDERR));
    // The cancel action runs on the canceller's thread: it only signals, this thread does the rest.
    CompletableFuture<Void> cancelled = new CompletableFuture<>();
    context.onCancel(
        () -> {
          cancelled.complete(null);
          group.terminate();
        });
    try {
      CompletableFuture.anyOf(leader.onExit(), cancelled).get();
    } catch (InterruptedException e) {
      throw stop(group, context);
    } catch (ExecutionException e) {
      throw new IllegalStateException("waiting for the task failed", e.getCause());
    }
    if (context.isCancelled()) {
      throw stop(group, context);
    }
    int exit = leader.exitValue();
    context.processExited(exit);
    long durationMs = (System.nanoTime() - started) / 1_000_000;
    // The task's process group is the task: what it left running in the background goes too.
    group.killLeftovers();
    try {
      stdout.awaitEnd(DRAIN_AFTER_EXIT);
      stderr.awaitEnd(DRAIN_AFTER_EXIT);
    } catch (InterruptedException e) {
      throw stop(group, context);
    }
    if (context.isCancelled()) {
      throw stop(group, context);
    }
    ExecTaskOutput output =
        ExecTaskOutput.newBuilder()
            .setExitCode(exit)
            .setStdoutTail(stdout.text())
            .setStderrTail(stderr.text())
            .setDurationMs(durationMs)
            .build();
    // A task that survived the loss of a child to the OOM killer (exit 0) is left to say so.
    if (exit != 0 && cgroup != null && cgroup.oomKills() > 0) {
      throw new TaskFailedException(oomKilled(resources.memBytes()), output.toByteString());
    }
    if (exit != 0) {
      String line = lastLine(output.getStderrTail());
      throw new TaskFailedException(
          "exit " + exit + (line.isEmpty() ? "" : ": " + line), output.toByteString());
    }
    return output.toByteString();
  }

  /** Why a task the OOM killer ended failed, with the bound it ran into if it had one. */
  static String oomKilled(long memBytes) {
    return "killed by the out-of-memory killer: "
        + (memBytes > 0
            ? "the task exceeded its memory limit of " + size(memBytes) + " (--mem)"
            : "its worker's host or cgroup ran out of memory");
  }

  /** {@code bytes} in the largest binary unit that keeps a whole part: "32 MiB", "1.5 GiB". */
  static String size(long bytes) {
    String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int unit = 0;
    double value = bytes;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    if (unit == 0) {
      return bytes + " bytes";
    }
    String text = String.format(Locale.ROOT, "%.1f", value);
    return (text.endsWith(".0") ? text.substring(0, text.length() - 2) : text) + " " + units[unit];
  }

  /** Stops the group (SIGTERM, the grace period, SIGKILL) and says how it ended. */
  private static TaskCancelledException stop(ProcessGroup group, TaskContext context) {
    ProcessGroup.Stop stop = group.stop(context.graceMs());
    Process leader = group.leader();
    if (!leader.isAlive()) {
      context.processExited(leader.exitValue());
    }
    return new TaskCancelledException(stop.outcome(), stop.detail());
  }

  /** Fails the task, as a shell would, if execvp could not run {@code program}. */
  private static void checkRunnable(
      TaskContext context, String program, String searchPath, Path workdir)
      throws TaskFailedException {
    try {
      ProgramLookup.resolve(
          program, searchPath == null ? ProgramLookup.DEFAULT_SEARCH_PATH : searchPath, workdir);
    } catch (NoSuchFileException e) {
      throw cannotStart(context, program, "No such file or directory");
    } catch (AccessDeniedException e) {
      throw cannotStart(context, program, "Permission denied");
    } catch (InvalidPathException e) {
      throw cannotStart(context, program, "not a valid path: " + e.getMessage());
    }
  }

  private static boolean isDirectory(String workdir) {
    try {
      return Files.isDirectory(Path.of(workdir));
    } catch (InvalidPathException e) {
      return false;
    }
  }

  /** A task whose command did not run: it exits 127, as a shell reports such a command. */
  private static TaskFailedException cannotStart(
      TaskContext context, String program, String reason) {
    context.processExited(CANNOT_START_EXIT);
    String message = "cannot start '" + program + "': " + reason;
    // The log holds what the result says: a task that never ran printed nothing but this.
    context.openLog(LogStream.STDOUT).close();
    TaskLogSink stderr = context.openLog(LogStream.STDERR);
    byte[] line = (message + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    stderr.write(line, 0, line.length);
    stderr.close();
    ExecTaskOutput output =
        ExecTaskOutput.newBuilder().setExitCode(CANNOT_START_EXIT).setStderrTail(message).build();
    return new TaskFailedException(message, output.toByteString());
  }

  /** The OS's reason for a failed start, without ProcessBuilder's wording around it. */
  static String startFailureReason(IOException e) {
    String message = String.valueOf(e.getMessage());
    Matcher reason = ERRNO_REASON.matcher(message);
    if (!reason.find()) {
      return message;
    }
    return reason.group(1) != null ? reason.group(1) : reason.group(2);
  }

  /** The last non-blank line of {@code text}, cut to a length that fits in an error message. */
  static String lastLine(String text) {
    String trimmed = text.stripTrailing();
    String line = trimmed.substring(trimmed.lastIndexOf('\n') + 1).strip();
    return line.length() <= MAX_MESSAGE_LINE ? line : line.substring(0, MAX_MESSAGE_LINE) + "...";
  }

  @Override
  public JobReduction reduction(JobSpec spec, TaskPlan plan) {
    return new Reduction(spec.getExec(), plan.taskCount());
  }

  private static final class Plan implements TaskPlan {
    private final ExecParams params;
    private final int tasks;

    Plan(ExecParams params, int tasks) {
      this.params = params;
      this.tasks = tasks;
    }

    @Override
    public int taskCount() {
      return tasks;
    }

    @Override
    public ByteString input(int task) {
      String input = inputOf(params, task);
      return ExecTask.newBuilder()
          .addAllArgv(argv(params.getCommandList(), input, params.getInputsCount() > 0))
          .setInput(input)
          .setWorkdir(params.getWorkdir())
          .putAllEnv(params.getEnvMap())
          .build()
          .toByteString();
    }

    @Override
    public String describe(int task) {
      return "input '" + inputOf(params, task) + "'";
    }
  }

  /**
   * Keeps every task's outcome, in task order. Besides successes it takes the outputs of tasks that
   * exited non-zero (a {@link TaskFailedException}'s output), which it counts as failed.
   */
  private static final class Reduction implements JobReduction {
    private final ExecParams params;
    private final AddedTasks added;
    private final ExecOutcome[] outcomes;

    Reduction(ExecParams params, int tasks) {
      this.params = params;
      this.added = new AddedTasks("exec", tasks);
      this.outcomes = new ExecOutcome[tasks];
    }

    @Override
    public void add(int task, ByteString output) throws InvalidTaskOutputException {
      ExecTaskOutput result = added.parse(ExecTaskOutput.parser(), task, output);
      if (added.first(task)) {
        outcomes[task] =
            ExecOutcome.newBuilder()
                .setTask(task)
                .setInput(inputOf(params, task))
                .setExitCode(result.getExitCode())
                .setStdoutTail(result.getStdoutTail())
                .setStderrTail(result.getStderrTail())
                .setDurationMs(result.getDurationMs())
                .build();
      }
    }

    @Override
    public JobResult result() {
      ExecResult.Builder result = ExecResult.newBuilder();
      int succeeded = 0;
      int failed = 0;
      for (ExecOutcome outcome : outcomes) {
        if (outcome == null) {
          continue;
        }
        result.addTasks(outcome);
        if (outcome.getExitCode() == 0) {
          succeeded++;
        } else {
          failed++;
        }
      }
      String summary =
          succeeded
              + (succeeded == 1 ? " task" : " tasks")
              + " succeeded"
              + (failed == 0 ? "" : ", " + failed + " failed");
      return JobResult.newBuilder()
          .setExec(result.setSucceeded(succeeded).setFailed(failed))
          .setSummary(summary)
          .build();
    }
  }
}
