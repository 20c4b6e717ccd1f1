package dev.weft.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Turns every failure into one line on stderr and an exit code from {@link ExitCodes}. Only a bug
 * in weft itself (an exception nobody expected) prints a stack trace.
 */
final class ErrorHandler implements IParameterExceptionHandler, IExecutionExceptionHandler {

  @Override
  public int handleParseException(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    String name = cmd.getCommandSpec().qualifiedName();
    StringBuilder line = new StringBuilder(name).append(": ").append(oneLine(ex.getMessage()));
    if (ex instanceof UnmatchedArgumentException unmatched) {
      List<String> suggestions = unmatched.getSuggestions();
      if (!suggestions.isEmpty()) {
        line.append("; did you mean ").append(String.join(" or ", suggestions)).append('?');
      }
    }
    line.append(" (see '").append(name).append(" --help')");
    cmd.getErr().println(line);
    cmd.getErr().flush();
    return ExitCodes.USAGE;
  }

  @Override
  public int handleExecutionException(Exception ex, CommandLine cmd, ParseResult parseResult) {
    PrintWriter err = cmd.getErr();
    String name = cmd.getCommandSpec().qualifiedName();
    int code;
    switch (ex) {
      case CliException e -> {
        err.println(name + ": " + oneLine(e.getMessage()));
        code = e.exitCode();
      }
      case StatusRuntimeException e -> {
        Status status = e.getStatus();
        code = ExitCodes.forStatus(status.getCode());
        err.println(name + ": " + describe(status));
      }
      default -> {
        err.println(name + ": internal error, please report it: " + ex);
        ex.printStackTrace(err);
        code = ExitCodes.SOFTWARE;
      }
    }
    err.flush();
    return code;
  }

  private static String describe(Status status) {
    String description = status.getDescription() == null ? "" : oneLine(status.getDescription());
    return switch (status.getCode()) {
      case INVALID_ARGUMENT -> "the coordinator rejected the request: " + description;
      case NOT_FOUND -> "not found: " + description;
      case UNAUTHENTICATED, PERMISSION_DENIED ->
          "the coordinator refused the request: " + description;
      default ->
          "the coordinator answered "
              + status.getCode()
              + (description.isEmpty() ? "" : ": " + description);
    };
  }

  private static String oneLine(String message) {
    return message == null ? "" : message.strip().replaceAll("\\s*\\R\\s*", "; ");
  }
}
