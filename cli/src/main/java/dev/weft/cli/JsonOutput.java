package dev.weft.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.util.List;

/**
 * Protobuf's JSON mapping on one line, with the .proto field names ({@code tasks_done}), so scripts
 * can rely on the schema's names. Fields at their default value are printed too (a job with no
 * failed task has {@code "tasks_failed":0}).
 */
final class JsonOutput {
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer()
          .preservingProtoFieldNames()
          .omittingInsignificantWhitespace()
          .alwaysPrintFieldsWithNoPresence();

  private JsonOutput() {}

  static String of(MessageOrBuilder message) {
    try {
      return PRINTER.print(message);
    } catch (InvalidProtocolBufferException e) {
      // Only an Any with an unknown type fails to print, and our schema has none.
      throw new IllegalStateException("cannot print " + message.getClass().getSimpleName(), e);
    }
  }

  static String array(List<? extends MessageOrBuilder> messages) {
    StringBuilder out = new StringBuilder("[");
    for (MessageOrBuilder message : messages) {
      if (out.length() > 1) {
        out.append(',');
      }
      out.append(of(message));
    }
    return out.append(']').toString();
  }
}
