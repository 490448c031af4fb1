#!/usr/bin/env python3
"""Send a WhatsApp notification from Python with `requests` (pip install requests).

    export WA_NOTIFY_URL=https://your-function-app.azurewebsites.net   # default http://127.0.0.1:7071
    export WA_NOTIFY_APIKEY=...
    python3 examples/send.py "Build #482 finished"            # to the paired phone itself
    python3 examples/send.py "Deploy done" 919876543210       # to one phone, waiting for delivery

The body is the OpenAlgo-compatible one (apikey may also go in the body); see docs/openapi.json.
"""
import os
import sys
import uuid

import requests

URL = os.environ.get("WA_NOTIFY_URL", "http://127.0.0.1:7071").rstrip("/")
API_KEY = os.environ["WA_NOTIFY_APIKEY"]


def notify(message, phone=None, wait_for_delivery=False, idempotency_key=None):
    body = {"message": message, "wait_for_delivery": wait_for_delivery}
    if phone:
        body["phone"] = phone
    else:
        body["self"] = True
    headers = {"X-API-KEY": API_KEY}
    # With a key, repeating the call after a timeout or connection error is safe: the server
    # answers the repeat with the first answer and sends nothing again.
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    # 60 s: longer than the server's wait_for_delivery timeout (30 s by default).
    response = requests.post(f"{URL}/api/v1/whatsapp/notify", json=body, headers=headers, timeout=60)
    answer = response.json()
    # 200 queued, delivered, or deferred (answer["deferred"]: WhatsApp offline, queued until it
    # reconnects). 502: none delivered; 504: no answer in time, sending goes on (answer["data"]["pending"]).
    if response.status_code != 200:
        field = f" [{answer['field']}]" if answer.get("field") else ""
        raise RuntimeError(f"HTTP {response.status_code}: {answer.get('message')}{field}")
    return answer


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: send.py MESSAGE [PHONE]")
    phone = sys.argv[2] if len(sys.argv) > 2 else None
    try:
        result = notify(sys.argv[1], phone=phone, wait_for_delivery=phone is not None, idempotency_key=str(uuid.uuid4()))
    except (RuntimeError, requests.RequestException) as error:
        sys.exit(str(error))
    print(result["message"], f"(id {result['id']})")
    for failure in result.get("data", {}).get("failed", []):
        print(f"  failed {failure['to']}: {failure['error']}", file=sys.stderr)
    if result["status"] != "success":
        sys.exit(1)
