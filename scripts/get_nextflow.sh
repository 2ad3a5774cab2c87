#!/usr/bin/env bash
# Assemble a pinned Nextflow from Maven Central (Nextflow's own launcher downloads its jar from a
# host this environment cannot reach; the core jars are ordinary Maven artifacts). The version is
# pinned in scripts/nextflow/pom.xml. Writes .cache/nextflow/nextflow, a launcher that starts
# nextflow.cli.Launcher with the JVM flags of Nextflow's own launcher script, NXF_OFFLINE=true and
# NXF_HOME inside .cache, and puts nf-lang (the strict syntax parser, for the tests) in
# .cache/nextflow/nf-lang-<version>/. The last line printed is the launcher's path.
# Needs java (17) and mvn.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
POM=scripts/nextflow/pom.xml
VERSION=$(sed -n 's:.*<nextflow.version>\(.*\)</nextflow.version>.*:\1:p' "$POM")
DEST=.cache/nextflow
LIB=$DEST/lib-$VERSION
LAUNCHER=$DEST/nextflow
NFLANG_VERSION=$(sed -n 's:.*<nflang.version>\(.*\)</nflang.version>.*:\1:p' scripts/nextflow/nf-lang.pom.xml)

# fetch POM LIBDIR MAIN_JAR: the jars of the pom's dependencies into LIBDIR, once (MAIN_JAR there = done)
fetch() {
  local pom=$1 lib=$2 main_jar=$3
  [ -f "$lib/$main_jar" ] && return 0
  command -v java >/dev/null || { echo "get_nextflow: java not found (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
  command -v mvn >/dev/null || { echo "get_nextflow: mvn not found (apt-get install maven)" >&2; exit 1; }
  rm -rf "$lib.tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$ROOT/$lib.tmp" >"$DEST/mvn.log" 2>&1 </dev/null; then
    tail -20 "$DEST/mvn.log" >&2
    echo "get_nextflow: could not resolve the dependencies of $pom from Maven Central (is it" \
         "reachable? full log: $DEST/mvn.log)" >&2
    exit 1
  fi
  [ -f "$lib.tmp/$main_jar" ] || { echo "get_nextflow: $main_jar missing after mvn ($pom)" >&2; exit 1; }
  mv "$lib.tmp" "$lib"
  rm -f "$DEST/mvn.log"
}

mkdir -p "$DEST"
fetch "$POM" "$LIB" "nextflow-$VERSION.jar"
fetch scripts/nextflow/nf-lang.pom.xml "$DEST/nf-lang-$NFLANG_VERSION" "nf-lang-$NFLANG_VERSION.jar"

mkdir -p "$DEST/home"
cat > "$LAUNCHER.tmp" <<EOF
#!/usr/bin/env bash
# Nextflow $VERSION from Maven Central jars (written by scripts/get_nextflow.sh).
# The --add-opens flags are those of Nextflow's own launcher script for Java 9+.
export NXF_OFFLINE=\${NXF_OFFLINE:-true}
export NXF_HOME=\${NXF_HOME:-$ROOT/$DEST/home}
export NXF_VER=$VERSION
exec "\${JAVA_CMD:-java}" \\
  -Dfile.encoding=UTF-8 -Djava.awt.headless=true -Dcom.sun.security.enableAIAcaIssuers=true \\
  --add-opens=java.base/java.lang=ALL-UNNAMED \\
  --add-opens=java.base/java.io=ALL-UNNAMED \\
  --add-opens=java.base/java.nio=ALL-UNNAMED \\
  --add-opens=java.base/java.net=ALL-UNNAMED \\
  --add-opens=java.base/java.util=ALL-UNNAMED \\
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED \\
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \\
  --add-opens=java.base/java.nio.file.spi=ALL-UNNAMED \\
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \\
  --add-opens=java.base/sun.nio.fs=ALL-UNNAMED \\
  --add-opens=java.base/sun.net.www.protocol.http=ALL-UNNAMED \\
  --add-opens=java.base/sun.net.www.protocol.https=ALL-UNNAMED \\
  --add-opens=java.base/sun.net.www.protocol.ftp=ALL-UNNAMED \\
  --add-opens=java.base/sun.net.www.protocol.file=ALL-UNNAMED \\
  --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED \\
  --add-opens=java.base/jdk.internal.vm=ALL-UNNAMED \\
  --add-opens=java.base/java.util.regex=ALL-UNNAMED \\
  \${NXF_OPTS:-} \\
  -cp "$ROOT/$LIB/*" nextflow.cli.Launcher "\$@"
EOF
chmod +x "$LAUNCHER.tmp"
mv "$LAUNCHER.tmp" "$LAUNCHER"
echo "$ROOT/$LAUNCHER"
