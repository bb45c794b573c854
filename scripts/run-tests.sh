#!/bin/sh
# Runs each cmocka test binary given, prints its output, and ends with one
# summary line "tests: N passed, N failed".  When tests were skipped, the
# line counts them too: "tests: N passed, N skipped, N failed".  Exits
# non-zero if any test failed or a binary crashed.  HS_TEST_FILTER, when
# set, keeps only the binaries whose name contains it.
set -u
passed=0
skipped=0
failed=0
crashed=0
for t in "$@"; do
	case "$t" in
	*"${HS_TEST_FILTER:-}"*) ;;
	*) continue ;;
	esac
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	skipped=$((skipped + s))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$t: exited with status $rc" >&2
		crashed=$((crashed + 1))
		failed=$((failed + 1))
	fi
done
if [ "$skipped" -gt 0 ]; then
	echo "tests: $passed passed, $skipped skipped, $failed failed"
else
	echo "tests: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$crashed" -eq 0 ]
