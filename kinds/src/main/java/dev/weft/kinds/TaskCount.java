package dev.weft.kinds;

import dev.weft.v1.JobSpec;

/** The rules every kind applies to a spec's {@code tasks} and {@code task_size} fields. */
final class TaskCount {
  private TaskCount() {}

  /** Checks the split fields on their own, before a kind sizes its work. */
  static void checkFields(JobSpec spec) throws InvalidJobException {
    if (spec.getTasks() != 0 && spec.getTaskSize() != 0) {
      throw new InvalidJobException("tasks", "set tasks or task_size, not both");
    }
    if (spec.getTasks() < 0 || spec.getTasks() > JobKinds.MAX_TASKS) {
      throw new InvalidJobException(
          "tasks",
          "must be between 1 and "
              + JobKinds.MAX_TASKS
              + ", or 0 for the kind's default (got "
              + spec.getTasks()
              + ")");
    }
    if (spec.getTaskSize() < 0) {
      throw new InvalidJobException(
          "task_size",
          "must be >= 1, or 0 for the kind's default (got " + spec.getTaskSize() + ")");
    }
  }

  /**
   * The task count of a kind whose tasks are all alike and have no elements to size ({@code sleep},
   * {@code noop}): {@code tasks}, or one task by default.
   */
  static int ofAlikeTasks(JobSpec spec, String kind) throws InvalidJobException {
    checkFields(spec);
    if (spec.getTaskSize() != 0) {
      throw new InvalidJobException(
          "task_size",
          "not used by " + kind + " jobs; set tasks instead (got " + spec.getTaskSize() + ")");
    }
    return spec.getTasks() == 0 ? 1 : spec.getTasks();
  }
}
