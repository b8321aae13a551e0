#!/usr/bin/env bash
# check-secrets.sh DIR...: fails if a log file (*.log) under DIR holds a
# secret's tell-tale form: a PEM private key, or a stored SCRAM verifier.
# Passwords themselves cannot be recognised by form: the tests that use
# them (internal/e2e/secrets_test.go) grep the node's log, replies and
# data dir for their own random passwords. make test runs this on the
# logs the chaos campaign leaves in chaos-ci/.
set -euo pipefail
status=0
for dir in "$@"; do
	[ -d "$dir" ] || continue
	while IFS= read -r -d '' f; do
		if grep -n -m3 -E -e 'PRIVATE KEY-----' -e 'SCRAM-SHA-256\$[0-9]+:' "$f" | sed "s|^|$f: |"; then
			echo "check-secrets: $f holds a private key or a password verifier" >&2
			status=1
		fi
	done < <(find "$dir" -type f -name '*.log' -print0)
done
exit $status
