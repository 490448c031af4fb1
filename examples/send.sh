#!/usr/bin/env bash
# Send a WhatsApp notification with curl.
#
#   export WA_NOTIFY_URL=https://your-function-app.azurewebsites.net   # default http://127.0.0.1:7071
#   export WA_NOTIFY_APIKEY=…                                          # your API key (required)
#   ./examples/send.sh self "Build #482 finished"                      # to the paired phone itself
#   ./examples/send.sh +91XXXXXXXXXX "Deploy done"                     # to one phone, with its country code
#   WA_NOTIFY_TO=self ./examples/send.sh "Build #482 finished"         # the recipient from the environment
#
# Nothing has a default recipient: without one (or without a key) it sends nothing and exits 2.
# Exit status: 0 when the API accepted the notification, 1 when it refused (answer on stderr).
set -euo pipefail

usage() {
  echo "usage: send.sh RECIPIENT MESSAGE   (RECIPIENT: self, or a phone number with its country code)" >&2
  echo "       or set WA_NOTIFY_TO to the recipient and run: send.sh MESSAGE" >&2
  exit 2
}

url="${WA_NOTIFY_URL:-http://127.0.0.1:7071}"
if [ -z "${WA_NOTIFY_APIKEY:-}" ]; then
  echo "send.sh: set WA_NOTIFY_APIKEY to your API key (create one with: npx wa-notify apikey create <name>)" >&2
  exit 2
fi
if [ $# -eq 2 ]; then
  to="$1" message="$2"
elif [ $# -eq 1 ] && [ -n "${WA_NOTIFY_TO:-}" ]; then
  to="$WA_NOTIFY_TO" message="$1"
else
  echo "send.sh: no recipient: give it as the first argument or set WA_NOTIFY_TO" >&2
  usage
fi

# A JSON string: with jq when available, else escaping \ " tab CR and newlines (other control
# characters are rare in notifications; use jq or the Python example for arbitrary text).
json_string() {
  if command -v jq >/dev/null; then printf '%s' "$1" | jq -Rs .; else
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/\r/\\r/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')"
  fi
}
if [ "$to" = "self" ]; then recipient='"self": true'; else recipient="\"phone\": $(json_string "$to")"; fi
body="{ $recipient, \"message\": $(json_string "$message") }"

# The key goes in a header (not the body) so it stays out of request-body logs. An Idempotency-Key
# makes a retry after a lost answer safe: the server answers the repeat without sending again.
response="$(mktemp)"
trap 'rm -f "$response"' EXIT
status="$(curl -sS -o "$response" -w '%{http_code}' \
  --retry 3 --retry-connrefused --max-time 60 \
  -H 'Content-Type: application/json' \
  -H "X-API-KEY: $WA_NOTIFY_APIKEY" \
  -H "Idempotency-Key: send-sh-$(date +%s)-$$" \
  -d "$body" "$url/api/v1/whatsapp/notify")"

case "$status" in
  200) cat "$response"; echo ;; # queued, sent, or deferred (WhatsApp offline: stored, sent on reconnect)
  *) echo "HTTP $status: $(cat "$response")" >&2; exit 1 ;;
esac
