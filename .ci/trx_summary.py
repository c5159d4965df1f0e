#!/usr/bin/env python3
"""Sums TRX results under a folder and prints exactly one line: "N passed, N failed".

A run with no TRX file counts as one failure. When CI=true, every skipped test whose reason
carries the OpenSSH, nginx or native-toolchain marker also counts as a failure (CI installs them:
OpenSSH, nginx, clang and zlib, so such tests must run).
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
# Reasons of tests skipped because CI-installed tools were missing (OpenSSH, nginx as the L7 load
# balancer, clang/zlib for Native AOT).
MARKERS = ("[requires-openssh]", "[requires-nginx]", "[requires-native-toolchain]")

root = sys.argv[1] if len(sys.argv) > 1 else "TestResults"
files = glob.glob(os.path.join(root, "**", "*.trx"), recursive=True)
passed = failed = 0
skipped_openssh = []
failed_tests = []
for path in files:
    doc = ET.parse(path).getroot()
    counters = doc.find("t:ResultSummary/t:Counters", NS)
    if counters is not None:
        passed += int(counters.get("passed", 0))
        failed += sum(int(counters.get(k, 0)) for k in ("failed", "error", "timeout", "aborted"))
    for result in doc.iterfind("t:Results/t:UnitTestResult", NS):
        if result.get("outcome") in ("Failed", "Error", "Timeout", "Aborted"):
            message = result.find("t:Output/t:ErrorInfo/t:Message", NS)
            first = (message.text or "").strip().splitlines() if message is not None else []
            failed_tests.append((result.get("testName"), first[0][:300] if first else ""))
        if result.get("outcome") != "NotExecuted":
            continue
        text = "".join(result.itertext())
        if any(marker in text for marker in MARKERS):
            skipped_openssh.append(result.get("testName"))

if not files:
    failed += 1
    print("no TRX results found", file=sys.stderr)
if os.environ.get("CI", "").lower() == "true" and skipped_openssh:
    for name in skipped_openssh:
        print(f"skipped under CI although CI installs what it needs: {name}", file=sys.stderr)
    failed += len(skipped_openssh)

# The failed tests' names (and the first line of each message) come just before the summary line,
# so the tail of a CI log alone says what to look at.
for name, first_line in failed_tests[:20]:
    print(f"failed: {name}: {first_line}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
