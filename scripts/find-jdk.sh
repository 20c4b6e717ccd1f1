# Sourced by ./weft, ./build and a distribution's bin/weft (which carries a copy as libexec/find-jdk.sh):
# sets WEFT_JAVA_HOME to a JDK 25 or newer (a JRE will do for "weft_find_jdk runtime"), or explains
# what is missing.
# The major version of the JDK at $1: from its release file when it has one (no JVM start, so ./weft
# stays fast), else by asking its java.
weft_java_major() {
  local v=""
  if [ -r "$1/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9.]*\).*/\1/p' "$1/release")
    # Java 8 and older said 1.8.0_x.
    case "$v" in 1.*) v=${v#1.} ;; esac
  fi
  if [ -z "$v" ]; then
    v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
  fi
  echo "${v%%.*}"
}

# weft_find_jdk [runtime]: by default a JDK (with javac, to build weft); "runtime" takes a JRE too,
# which is all a built distribution needs.
weft_find_jdk() {
  local min=25 need=${1:-jdk} what=JDK candidate major
  local -a candidates=()
  [ "$need" = runtime ] && what="Java runtime (JDK or JRE)"
  [ -n "${WEFT_JAVA_HOME:-}" ] && candidates+=("$WEFT_JAVA_HOME")
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for candidate in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /usr/local/lib/jvm/* \
    "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$candidate" ] && candidates+=("$candidate")
  done
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for candidate in "${candidates[@]}"; do
    [ -x "$candidate/bin/java" ] || continue
    [ "$need" = runtime ] || [ -x "$candidate/bin/javac" ] || continue
    major=$(weft_java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge "$min" ] 2>/dev/null; then
      WEFT_JAVA_HOME="$candidate"
      export WEFT_JAVA_HOME
      return 0
    fi
  done
  {
    echo "weft: no $what $min or newer found."
    echo "  Looked at: \$JAVA_HOME (${JAVA_HOME:-unset}), /usr/lib/jvm/*, /usr/java/*, /opt/java/*, ~/.sdkman, ~/.jdks and the java on PATH."
    echo "  Install one (for example Eclipse Temurin 25) or point JAVA_HOME at it."
  } >&2
  return 1
}
