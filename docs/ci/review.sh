#!/usr/bin/env bash
# conno's review job: what a CI runs on every pull request of a conno project.
#
#   1. conno diff BASE HEAD  what the PR changed in params, code and results, as Markdown,
#                            into the job summary (GitHub's $GITHUB_STEP_SUMMARY, else stdout);
#                            from the two conno.lock files alone
#   2. conno pull            the results the PR's conno.lock records, from the remote cache
#                            (its author ran `conno repro` and `conno push`)
#   3. conno verify --sample N --seed S
#                            N instances drawn at random rerun from the inputs the lock records
#                            and compared bit for bit: a lock that its code does not reproduce
#                            fails the job
#
# Settings (environment): BASE (default origin/main), SAMPLE (default 3), SEED (default: from
# the HEAD commit, so each push checks other instances and a rerun of one commit the same ones),
# CONNO (default "npx conno"), CONNO_REMOTE or the pipeline's default_remote for the remote.
set -euo pipefail

BASE=${BASE:-origin/main}
SAMPLE=${SAMPLE:-3}
SEED=${SEED:-$((16#$(git rev-parse --short=6 HEAD)))}
CONNO=${CONNO:-npx conno}
SUMMARY=${GITHUB_STEP_SUMMARY:-/dev/stdout}

{
  $CONNO diff "$BASE" HEAD --md
  echo
} >>"$SUMMARY"

$CONNO pull

status=0
out=$($CONNO verify --sample "$SAMPLE" --seed "$SEED") || status=$?
[ "$SUMMARY" = /dev/stdout ] || printf '%s\n' "$out"
{
  echo "## conno verify --sample ${SAMPLE} --seed ${SEED}"
  echo
  echo '```'
  printf '%s\n' "$out"
  echo '```'
} >>"$SUMMARY"
exit "$status"
