#!/usr/bin/env python3
"""Creates ConfigMaps one after another over one HTTPS connection and prints
"ack NAME" as soon as the server acknowledged each (201), until the server
goes away. Usage: controlplane_write_stream.py URL TOKEN CA_FILE."""
import http.client
import json
import ssl
import sys
from urllib.parse import urlparse


def main():
    url, token, ca_file = sys.argv[1:4]
    parsed = urlparse(url)
    context = ssl.create_default_context(cafile=ca_file)
    connection = http.client.HTTPSConnection(parsed.hostname, parsed.port, context=context)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    index = 0
    while True:
        name = f"w{index:06d}"
        body = json.dumps({"metadata": {"name": name}, "data": {"index": str(index)}})
        try:
            connection.request("POST", "/api/v1/namespaces/default/configmaps", body, headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            print("server gone", flush=True)
            return
        if response.status != 201:
            print(f"unexpected status {response.status} for {name}", flush=True)
            sys.exit(1)
        print(f"ack {name}", flush=True)
        index += 1


if __name__ == "__main__":
    main()
