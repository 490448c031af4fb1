#!/usr/bin/env bash
# Send a WhatsApp notification with curl.
#
#   export WA_NOTIFY_URL=https://your-function-app.azurewebsites.net   # default http://127.0.0.1:7071
#   export WA_NOTIFY_APIKEY=…
#   ./examples/send.sh "Build #482 finished"           # to the paired phone itself
#   ./examples/send.sh "Deploy done" 919876543210      # to one phone
#
# Exit status: 0 when the API accepted the notification (200: queued, sent or deferred), else 1 with the answer on stderr.
set -euo pipefail

url="${WA_NOTIFY_URL:-http://127.0.0.1:7071}"
: "${WA_NOTIFY_APIKEY:?set WA_NOTIFY_APIKEY}"
message="${1:?usage: send.sh MESSAGE [PHONE]}"
phone="${2:-}"

# A JSON string: with jq when available, else escaping \ " tab CR and newlines (other control
# characters are rare in notifications; use jq or the Python example for arbitrary text).
json_string() {
  if command -v jq >/dev/null; then printf '%s' "$1" | jq -Rs .; else
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/\r/\\r/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }')"
  fi
}
if [ -n "$phone" ]; then recipient="\"phone\": $(json_string "$phone")"; else recipient='"self": true'; fi
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
  200) cat "$response"; echo ;;
  *) echo "HTTP $status: $(cat "$response")" >&2; exit 1 ;;
esac
