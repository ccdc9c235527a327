#!/bin/bash
# Lambda handler started by the AWS Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap).
# Starts the gateway's HTTP server; LWA forwards invocations to it on 127.0.0.1:$PORT.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-8080}"
# Powertools comes from a layer (/opt/python); boto3 from the runtime's own path.
export PYTHONPATH="${DIR}:/opt/python${PYTHONPATH:+:${PYTHONPATH}}"
exec python3 -u "${DIR}/server.py"
