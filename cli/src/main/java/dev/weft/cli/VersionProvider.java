package dev.weft.cli;

import picocli.CommandLine.IVersionProvider;

/** {@code weft --version}. */
final class VersionProvider implements IVersionProvider {
  @Override
  public String[] getVersion() {
    return new String[] {
      "weft " + BuildInfo.version(),
      "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")",
    };
  }
}
