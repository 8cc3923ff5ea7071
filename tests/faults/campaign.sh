#!/usr/bin/env bash
# The fault campaign of issue 6's "done when": for each fault kind, RUNS consecutive fault runs of
# SECONDS each with different seeds (3 nodes; 5 for partitions), alternating the register and set
# workloads. Every run's JSON summary is appended, one line each, to OUT; the script ends with a
# table of outcomes and exits non-zero when any run failed.
#
#   bash tests/faults/campaign.sh [OUT] [RUNS] [SECONDS] [KINDS] [NODES] [EXTRA]
#   bash tests/faults/campaign.sh fault-campaign.jsonl 10 60 "kill pause partition mixed"
#   bash tests/faults/campaign.sh more.jsonl 10 60 "partition mixed" 3   # every kind on 3 nodes
#   bash tests/faults/campaign.sh splits.jsonl 10 60 mixed 3 --splits     # EXTRA: more flags
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:-fault-campaign.jsonl}
runs=${2:-10}
seconds=${3:-60}
kinds=${4:-kill pause partition mixed}
fixed_nodes=${5:-}
extra=${6:-}
deno=./node_modules/.bin/deno
failed=0
for kind in $kinds; do
  nodes=3
  [ "$kind" = partition ] && nodes=5
  [ -n "$fixed_nodes" ] && nodes=$fixed_nodes
  for k in $(seq 1 "$runs"); do
    seed=$((1000 * k + ${#kind} * 7 + RANDOM % 7))
    workload=register
    [ $((k % 2)) -eq 0 ] && workload=set
    log=$(mktemp)
    summary=$("$deno" run -A tests/faults/main.ts --workload "$workload" --faults "$kind" \
      --nodes "$nodes" --seconds "$seconds" --seed "$seed" $extra 2>"$log")
    rc=$?
    line=$(printf '%s' "$summary" | "$deno" eval --quiet \
      'const s = JSON.parse(await new Response(Deno.stdin.readable).text()); console.log(JSON.stringify(s))' 2>/dev/null)
    [ -n "$line" ] || line="{\"outcome\":\"no-summary\",\"faults\":\"$kind\",\"seed\":$seed,\"exit\":$rc}"
    echo "$line" >>"$out"
    echo "$kind run $k: workload=$workload nodes=$nodes seed=$seed exit=$rc"
    if [ "$rc" -ne 0 ]; then
      failed=$((failed + 1))
      tail -n 30 "$log"
    fi
    rm -f "$log"
  done
done
echo "campaign: $failed failed runs; summaries in $out"
[ "$failed" -eq 0 ]
