#!/usr/bin/env bash
# Runs the README's "Walkthrough for integrators" as written: every ```sh block of that
# section, in order, in one `bash -euo pipefail`, against a running `mirai dev --demo` (its
# own database and NATS prefix, a free port, a temp working dir that holds .dev/demo.json),
# so the README cannot drift from the API. On failure it names the block and README line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/dev-fleet.sh
README="$PWD/README.md"
# The README's blocks need curl and jq, as a reader's shell would.
if ! command -v jq >/dev/null || ! command -v curl >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq jq curl >/dev/null
fi
trap stop_dev_fleet EXIT

# Every ```sh block between "## Walkthrough for integrators" and the next "## " heading,
# each preceded by a marker: the ERR trap maps a failing line back to README.md.
python3 - "$README" >"$WORK/walkthrough.sh" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
start = next((i for i, l in enumerate(lines) if l.strip() == "## Walkthrough for integrators"), None)
if start is None:
    sys.exit("readme-walkthrough: no '## Walkthrough for integrators' heading in README.md")
end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
out = ["trap 'echo \"readme-walkthrough: block $__block failed in the command ending at README.md:$((LINENO + __offset)): $BASH_COMMAND\" >&2' ERR"]
blocks, i = 0, start + 1
while i < end:
    if lines[i].strip() == "```sh":
        blocks += 1
        body_start = i + 1  # 0-based index of the block's first line; README line = index + 1
        j = body_start
        while j < end and lines[j].strip() != "```":
            j += 1
        if j == end:
            sys.exit(f"readme-walkthrough: the block at README.md:{i + 1} is not closed")
        out.append(f"__block={blocks}; echo '== block {blocks} (README.md:{i + 1})'")
        # The next output line is script line len(out) + 1 and holds README line body_start + 1.
        out.append(f"__offset={body_start + 1 - (len(out) + 2)}")
        out.extend(lines[body_start:j])
        i = j
    i += 1
if blocks == 0:
    sys.exit("readme-walkthrough: no ```sh blocks in the walkthrough section")
print("\n".join(out))
PY

start_dev_fleet readme

echo "readme-walkthrough: $(grep -c '^__block=' "$WORK/walkthrough.sh") blocks from README.md against 127.0.0.1:$PORT"
if (cd "$WORK" && MIRAI_URL="http://127.0.0.1:$PORT" bash -euo pipefail "$WORK/walkthrough.sh"); then
  echo "readme-walkthrough: ok"
else
  status=$?
  echo "readme-walkthrough: FAILED (exit $status); the server's log:"; tail -n 20 "$WORK/dev.log"
  exit "$status"
fi
