#!/usr/bin/env bash
# Coverage-guided fuzzing of the SDK's parsers with SharpFuzz + AFL++ (Debian's afl++).
#
#   tests/Teleport.MachineId.Fuzz/run-fuzz.sh TARGET|all SECONDS
#   tests/Teleport.MachineId.Fuzz/run-fuzz.sh report        (the lines of the last runs in $FUZZ_WORK)
#
# Builds the fuzz project, instruments Teleport.MachineId.dll, Teleport.MachineId.Configuration.dll and Teleport.MachineId.Testing.dll
# with the SharpFuzz.CommandLine local tool (.config/dotnet-tools.json), then runs afl-fuzz on each
# target for SECONDS, seeded from Corpus/<target>. Findings go to $FUZZ_WORK (default .fuzz/ at the
# repo root, git-ignored); each target's line reports execs, corpus paths, edges and crashes.
# Exit 1 when any target saved a crash or a hang: replay it with
#   dotnet run --project tests/Teleport.MachineId.Fuzz -- replay TARGET .fuzz/findings/TARGET/default/crashes
# and turn it into a regression test (docs/fuzzing.md). Env: FUZZ_NICE (default 19), FUZZ_TIMEOUT_MS
# (per-input timeout, default 5000), FUZZ_SKIP_BUILD=1 to reuse the last instrumented build,
# FUZZ_CONFIGURATION (default Release; CI uses the Debug build its tests already made).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${FUZZ_WORK:-$repo/.fuzz}"
bin="$work/bin"
target="${1:?usage: run-fuzz.sh TARGET|all SECONDS | report}"

# One line per target from AFL++'s fuzzer_stats (run_time adds up over resumed runs); false on a crash or hang.
report() {
  local t="$1" out="$work/findings/$1" stats="$work/findings/$1/default/fuzzer_stats"
  get() { awk -F' *: *' -v k="$1" '$1==k {print $2}' "$stats"; }
  [ -f "$stats" ] || { echo "$t: no fuzzer_stats in $out"; return 1; }
  local crashes hangs
  crashes=$(get saved_crashes); hangs=$(get saved_hangs)
  echo "$t: $(get run_time)s, $(get execs_done) execs ($(get execs_per_sec)/s), $(get corpus_count) paths, $(get edges_found) edges (bitmap $(get bitmap_cvg)), $crashes crashes, $hangs hangs"
  if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
    local f rc=0
    for f in "$out"/default/crashes/id:* "$out"/default/hangs/id:*; do
      [ -f "$f" ] || continue
      echo "  $t finding: $f"
      replay_finding "$t" "$f" || rc=1
    done
    return "$rc"
  fi
}

# Replays one finding in a fresh process (bounded) so the log says what broke, and prints the input as
# base64 (first 6 KB) so a CI log is enough to reproduce it. False when it reproduces. A finding that
# replays cleanly is reported but not failed: the forkserver counts a child it lost (killed after a
# slow input, or dead for a reason outside the target) as a crash of the next input.
replay_finding() {
  local t="$1" f="$2" log
  # The build output, not the instrumented copy: instrumented code needs afl-fuzz's shared memory.
  log=$(timeout 60 dotnet "$here/bin/${FUZZ_CONFIGURATION:-Release}/net10.0/Teleport.MachineId.Fuzz.dll" replay "$t" "$f" 2>&1)
  local rc=$?
  echo "    input ($(stat -c %s "$f") bytes, base64): $(head -c 6144 "$f" | base64 -w0)"
  if [ "$rc" = 0 ]; then
    echo "    did not reproduce in a fresh process: $(tail -1 <<<"$log")"
    return 0
  fi
  grep -m3 -E 'Exception|timed out' <<<"$log" | cut -c1-300 | sed 's/^/    /'
  [ "$rc" = 124 ] && echo "    replay timed out after 60 s"
  return 1
}

if [ "$target" = report ]; then
  rc=0
  for d in "$work"/findings/*/; do report "$(basename "$d")" || rc=1; done
  exit "$rc"
fi
seconds="${2:?usage: run-fuzz.sh TARGET|all SECONDS}"
nice_level="${FUZZ_NICE:-19}"
timeout_ms="${FUZZ_TIMEOUT_MS:-5000}"

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 2; }
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ] || [ ! -f "$bin/.instrumented" ]; then
  rm -rf "$bin"
  (cd "$repo" && dotnet tool restore >/dev/null)
  # Build (a no-op when the tests already built it), then instrument a copy: the build output stays clean.
  config="${FUZZ_CONFIGURATION:-Release}"
  dotnet build "$here/Teleport.MachineId.Fuzz.csproj" -c "$config" --nologo -v q >/dev/null
  mkdir -p "$work"
  cp -r "$here/bin/$config/net10.0" "$bin"
  for dll in Teleport.MachineId.dll Teleport.MachineId.Configuration.dll Teleport.MachineId.Testing.dll; do
    (cd "$repo" && dotnet sharpfuzz "$bin/$dll" >/dev/null)
  done
  touch "$bin/.instrumented"
fi

if [ "$target" = all ]; then
  mapfile -t targets < <(dotnet "$bin/Teleport.MachineId.Fuzz.dll" list | awk '{print $1}')
else
  targets=("$target")
fi

# A shared machine: no CPU pinning, no cpufreq check; AFL++ cannot see .NET's instrumentation in the
# dotnet host binary, and .NET's runtime needs more than AFL++'s default memory limit.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_QUIET=1 \
  AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_AUTORESUME=1

failed=0
for t in "${targets[@]}"; do
  seeds="$here/Corpus/$t"
  [ -d "$seeds" ] || { echo "$t: no seed corpus at $seeds" >&2; failed=1; continue; }
  out="$work/findings/$t"
  mkdir -p "$out"
  nice -n "$nice_level" afl-fuzz -i "$seeds" -o "$out" -t "$timeout_ms" -m none -V "$seconds" \
    -- dotnet "$bin/Teleport.MachineId.Fuzz.dll" fuzz "$t" >"$out/afl.log" 2>&1 || {
      echo "$t: afl-fuzz failed (see $out/afl.log)"; tail -5 "$out/afl.log" >&2; failed=1; continue; }
  report "$t" || failed=1
done
exit "$failed"
