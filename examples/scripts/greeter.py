#!/usr/bin/env python3
"""Answers each line with a greeting; flushes every line (see the README on buffered output)."""
import os
import sys

greeting = os.environ.get("GREETING", "hello")
for line in sys.stdin:
    print(f"{greeting}, {line.strip()} (from {os.environ.get('REMOTE_ADDR', '?')})", flush=True)
