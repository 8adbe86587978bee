#!/usr/bin/env bash
# Run one chaos test N times with two busy loops beside it (a loaded 2-core machine, like CI's), keep
# the data dirs and every node's stderr of each failing run, and count the failures. This is how the
# worker-restart flake of session 5 was caught and explained (issue 12's notes).
#   npx tsc -p tsconfig.json && bash scripts/chaos-under-load.sh 10 test/integration/chaos-worker-restart.test.ts
# Failures: /tmp/chaos-fail-<test>-<run>/ (data dirs with stderr.log per node); outputs: /tmp/chaos-runs/.
# It clears /tmp/rc-chaos-* after each passing run: do not run it beside other chaos tests.
set -u
cd "$(dirname "$0")/.."
N=${1:-10}; TEST=${2:-test/integration/chaos-worker-restart.test.ts}; TAG=$(basename "$TEST" .test.ts)
mkdir -p /tmp/chaos-runs
fails=0
for i in $(seq 1 "$N"); do
  node -e 'const e=Date.now()+110000; while(Date.now()<e){}' & B1=$!
  node -e 'const e=Date.now()+110000; while(Date.now()<e){}' & B2=$!
  RC_KEEP=1 RC_NODE_LOGS=1 RC_TEST_LOG=debug timeout 300 npx mocha --no-config -n import=tsx --timeout 120000 --exit "$TEST" > "/tmp/chaos-runs/$TAG-$i.out" 2>&1
  rc=$?
  kill $B1 $B2 2>/dev/null; wait $B1 $B2 2>/dev/null
  if [ $rc -ne 0 ]; then
    fails=$((fails+1)); echo "run $i FAILED (/tmp/chaos-runs/$TAG-$i.out)"
    mkdir -p "/tmp/chaos-fail-$TAG-$i"; mv /tmp/rc-chaos-* "/tmp/chaos-fail-$TAG-$i/" 2>/dev/null
  else
    echo "run $i ok"; rm -rf /tmp/rc-chaos-*
  fi
done
echo "$TAG: $fails/$N failed"
