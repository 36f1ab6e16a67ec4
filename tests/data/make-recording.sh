#!/usr/bin/env bash
# Makes tests/data/recording-spx: about 16 seconds of the simulated SPX market, as
# `chainboard run --record` records it against the fake Massive, with a strike
# listing and a dropped connection (a gap, then a geometry_change epoch), two
# malformed frames and a 6-second stall (a stale_feed epoch) on the way; and
# tests/data/recording-spx.digests, the digests of every document that run published.
#
# The replay test (crates/cli/tests/replay.rs) replays the recording and compares
# what it publishes with those digests. When the models' output changes on purpose,
# rewrite the digests from a replay and review the change:
#   chainboard replay tests/data/recording-spx --speed max --listen 127.0.0.1:0 \
#       --digests tests/data/recording-spx.digests
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/chainboard
port=${PORT:-9107}
out=tests/data/recording-spx
rm -rf "$out"
"$bin" fake-massive --listen "127.0.0.1:$port" --symbols SPX --seed 3 >/dev/null 2>&1 &
fake=$!
trap 'kill $fake' EXIT
sleep 1
"$bin" run --rest-url "http://127.0.0.1:$port" --ws-url "ws://127.0.0.1:$port" \
    --api-key fake-key --symbols SPX --strike-window 0.02 --max-days 7 --quote-budget 80 \
    --listen 127.0.0.1:0 --record "$out" --digests "$out.digests" --for-secs 18 &
run=$!
control() { curl -s -X POST "http://127.0.0.1:$port/_fake/$1" >/dev/null; }
sleep 3; control "list-strikes?symbol=SPX"
sleep 1; control drop
sleep 2; control "malformed?frames=2"
sleep 1; control "stall?seconds=6"
wait $run
