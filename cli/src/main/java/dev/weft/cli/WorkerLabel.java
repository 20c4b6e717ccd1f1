package dev.weft.cli;

import dev.weft.worker.WorkerConfig;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** One {@code weft worker --label KEY=VALUE}. */
record WorkerLabel(String key, String value) {

  static WorkerLabel parse(String text) {
    int equals = text.indexOf('=');
    if (equals < 0) {
      throw new TypeConversionException(
          "'" + text + "' is not KEY=VALUE; write a label such as zone=eu-west or gpu=a100");
    }
    WorkerLabel label =
        new WorkerLabel(text.substring(0, equals).strip(), text.substring(equals + 1).strip());
    try {
      // The rules for keys and values are WorkerConfig's: checked once, there.
      new WorkerConfig().label(label.key, label.value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
    return label;
  }

  static final class Converter implements ITypeConverter<WorkerLabel> {
    @Override
    public WorkerLabel convert(String value) {
      return parse(value);
    }
  }
}
