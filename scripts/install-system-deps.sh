#!/usr/bin/env bash
# System packages the tests need. Today's backends (core, cpu) need none; the browser and GPU backends add
# theirs here (apt, as root), so that README's test line stays one line on a fresh machine.
set -euo pipefail
exit 0
