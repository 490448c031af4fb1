#!/usr/bin/env python3
"""Send a WhatsApp notification from Python, with the standard library only (urllib).

    export WA_NOTIFY_URL=https://your-function-app.azurewebsites.net   # default http://127.0.0.1:7071
    export WA_NOTIFY_APIKEY=...                                        # your API key (required)
    python3 examples/send.py self "Build #482 finished"                # to the paired phone itself
    python3 examples/send.py +91XXXXXXXXXX "Deploy done"               # to one phone, waiting for delivery
    WA_NOTIFY_TO=self python3 examples/send.py "Build #482 finished"   # the recipient from the environment

Nothing has a default recipient: without one (or without a key) it sends nothing and exits 2.
The body is the OpenAlgo-compatible one (apikey may also go in the body); see docs/openapi.json.
"""
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

USAGE = (
    "usage: send.py RECIPIENT MESSAGE   (RECIPIENT: self, or a phone number with its country code)\n"
    "       or set WA_NOTIFY_TO to the recipient and run: send.py MESSAGE"
)


def notify(url, api_key, to, message, wait_for_delivery=False, idempotency_key=None):
    body = {"message": message, "wait_for_delivery": wait_for_delivery}
    if to == "self":
        body["self"] = True
    else:
        body["phone"] = to
    headers = {"Content-Type": "application/json", "X-API-KEY": api_key}
    # With a key, repeating the call after a timeout or connection error is safe: the server
    # answers the repeat with the first answer and sends nothing again.
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(f"{url}/api/v1/whatsapp/notify", data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        # 60 s: longer than the server's wait_for_delivery timeout (30 s by default).
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        # 502: none delivered; 504: no answer in time, sending goes on (answer["data"]["pending"]).
        try:
            answer = json.load(error)
        except ValueError:
            answer = {}
        field = f" [{answer['field']}]" if answer.get("field") else ""
        raise RuntimeError(f"HTTP {error.code}: {answer.get('message', error.reason)}{field}") from None


def main(argv):
    url = os.environ.get("WA_NOTIFY_URL", "http://127.0.0.1:7071").rstrip("/")
    api_key = os.environ.get("WA_NOTIFY_APIKEY", "")
    if not api_key:
        print("send.py: set WA_NOTIFY_APIKEY to your API key (create one with: npx wa-notify apikey create <name>)", file=sys.stderr)
        return 2
    if len(argv) == 2:
        to, message = argv
    elif len(argv) == 1 and os.environ.get("WA_NOTIFY_TO"):
        to, message = os.environ["WA_NOTIFY_TO"], argv[0]
    else:
        print("send.py: no recipient: give it as the first argument or set WA_NOTIFY_TO", file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    try:
        result = notify(url, api_key, to, message, wait_for_delivery=to != "self", idempotency_key=str(uuid.uuid4()))
    except RuntimeError as error:
        print(f"send.py: {error}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"send.py: could not reach {url} ({reason}); is WA_NOTIFY_URL right and the function app running?", file=sys.stderr)
        return 1
    print(result["message"], f"(id {result['id']})")
    for failure in result.get("data", {}).get("failed", []):
        print(f"  failed {failure['to']}: {failure['error']}", file=sys.stderr)
    return 0 if result["status"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
