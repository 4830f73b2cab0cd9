# Sourced by ./mvnw (and .ci/run): makes sure Maven runs on a JDK >= 21, so that a fresh
# checkout builds without manual steps on machines whose default `java` is older.
# Keeps JAVA_HOME when it already points at a JDK >= 21; otherwise picks the newest JDK >= 21
# found on PATH or in the usual install locations. Prints nothing unless it fails.

weaseldb_java_feature() {
  # prints the feature release (17, 21, 25, ...) of the java binary given as $1
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

weaseldb_find_jdk() {
  if [ -n "${JAVA_HOME-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    v=$(weaseldb_java_feature "$JAVA_HOME/bin/java")
    if [ -n "$v" ] && [ "$v" -ge 21 ]; then return 0; fi
  fi
  best=""
  bestv=0
  candidates=""
  if command -v javac >/dev/null 2>&1; then
    candidates=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
  fi
  for d in /usr/lib/jvm/* /usr/java/* /opt/java/* /Library/Java/JavaVirtualMachines/*/Contents/Home \
           "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    candidates="$candidates
$d"
  done
  oldifs=$IFS
  IFS='
'
  for d in $candidates; do
    [ -x "$d/bin/javac" ] || continue
    v=$(weaseldb_java_feature "$d/bin/java")
    [ -n "$v" ] || continue
    if [ "$v" -ge 21 ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  IFS=$oldifs
  if [ -z "$best" ]; then
    echo "WeaselDB needs a JDK >= 21: set JAVA_HOME to one (none found on PATH or under /usr/lib/jvm)." >&2
    return 1
  fi
  JAVA_HOME=$best
  export JAVA_HOME
}

weaseldb_quiet_maven() {
  # Maven 3.9's Guice warns about sun.misc.Unsafe on JDK 24+; the warning is noise for us.
  v=$(weaseldb_java_feature "$JAVA_HOME/bin/java")
  if [ -n "$v" ] && [ "$v" -ge 24 ]; then
    case "${MAVEN_OPTS-}" in
      *sun-misc-unsafe-memory-access*) ;;
      *) MAVEN_OPTS="${MAVEN_OPTS-} --sun-misc-unsafe-memory-access=allow"; export MAVEN_OPTS ;;
    esac
  fi
}

# ./mvnw runs with `set -f` (no globbing); the search below needs it for a moment.
case $- in *f*) weaseldb_noglob=1; set +f ;; *) weaseldb_noglob=0 ;; esac
weaseldb_find_jdk || exit 1
weaseldb_quiet_maven
[ "$weaseldb_noglob" = 1 ] && set -f
unset weaseldb_noglob
