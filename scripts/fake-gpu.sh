#!/usr/bin/env bash
# Give kind nodes fake NVIDIA GPUs, the way Kueue's e2e tests fake extended resources:
# patch the node status (capacity + allocatable) through the status subresource and label
# the node `nvidia.com/gpu.present=true` so GPU flavors and the device plugin selector match.
# No device plugin runs for these GPUs: pods get scheduled and counted, never a real device.
# Kubelet drops unknown extended resources when it re-registers (node restart): run again.
# It never sets Node Feature Discovery's NVIDIA PCI label (feature.node.kubernetes.io/pci-10de.
# present), which the DCGM exporter requires: DCGM needs real hardware and crash-loops without.
# Nodes that already carry that label have real GPUs and are refused.
#
# usage: scripts/fake-gpu.sh [--context CTX] [--gpus N] [--remove] [NODE...]
#   default nodes: every node without the control-plane role; default --gpus 4.
set -euo pipefail

context=""
gpus=4
remove=false
nodes=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --context) context="$2"; shift 2 ;;
    --gpus) gpus="$2"; shift 2 ;;
    --remove) remove=true; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "fake-gpu: unknown option $1" >&2; exit 2 ;;
    *) nodes+=("$1"); shift ;;
  esac
done
[[ "$gpus" =~ ^[1-9][0-9]*$ ]] || { echo "fake-gpu: --gpus must be a positive integer" >&2; exit 2; }
context="${context:-$(kubectl config current-context)}"
kc=(kubectl --context "$context")
if [[ ${#nodes[@]} -eq 0 ]]; then
  mapfile -t nodes < <("${kc[@]}" get nodes -l '!node-role.kubernetes.io/control-plane' \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
fi
[[ ${#nodes[@]} -gt 0 ]] || { echo "fake-gpu: no worker nodes in $context" >&2; exit 1; }

real_gpu_label='feature.node.kubernetes.io/pci-10de.present'
for node in "${nodes[@]}"; do
  real=$("${kc[@]}" get node "$node" -o "jsonpath={.metadata.labels.${real_gpu_label//./\\.}}")
  if [[ "$real" == "true" ]]; then
    echo "fake-gpu: $node has real NVIDIA GPUs ($real_gpu_label=true): not faking" >&2
    exit 1
  fi
  if $remove; then
    patch='[{"op":"remove","path":"/status/capacity/nvidia.com~1gpu"},'
    patch+='{"op":"remove","path":"/status/allocatable/nvidia.com~1gpu"}]'
    "${kc[@]}" patch node "$node" --subresource=status --type=json -p "$patch"
    "${kc[@]}" label node "$node" nvidia.com/gpu.present-
  else
    patch="[{\"op\":\"add\",\"path\":\"/status/capacity/nvidia.com~1gpu\",\"value\":\"$gpus\"},"
    patch+="{\"op\":\"add\",\"path\":\"/status/allocatable/nvidia.com~1gpu\",\"value\":\"$gpus\"}]"
    "${kc[@]}" patch node "$node" --subresource=status --type=json -p "$patch"
    "${kc[@]}" label node "$node" nvidia.com/gpu.present=true --overwrite
  fi
done
"${kc[@]}" get nodes -o custom-columns='NODE:.metadata.name,GPUS:.status.allocatable.nvidia\.com/gpu'
