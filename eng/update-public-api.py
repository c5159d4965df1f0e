#!/usr/bin/env python3
"""Brings src/*/PublicAPI.Unshipped.txt up to date with the code.

Builds the solution, adds every symbol PublicApiAnalyzers reports as undeclared (RS0016) to the
project's PublicAPI.Unshipped.txt and removes every declared symbol it cannot find (RS0017), then
builds again until nothing changes. Review the diff: it is the change to the public API.
(`dotnet format analyzers --diagnostics RS0016` does the same for a fresh file but does not add to
one that already lists symbols, hence this script.)

Usage: eng/update-public-api.py [solution-or-project]
  With no argument it builds only the packages (every src/ project with a PublicAPI.Unshipped.txt,
  through a temporary solution filter), not the tests, benchmarks or fuzz projects.
"""
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def packages_filter():
    """A solution filter (.slnf) listing the projects that track a public API."""
    projects = sorted(
        os.path.relpath(p, ROOT)
        for p in glob.glob(os.path.join(ROOT, "src", "*", "*.csproj"))
        if os.path.exists(os.path.join(os.path.dirname(p), "PublicAPI.Unshipped.txt")))
    path = os.path.join(ROOT, "obj", "public-api.slnf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"solution": {"path": os.path.relpath(os.path.join(ROOT, "Teleport.MachineId.sln"), os.path.dirname(path)), "projects": projects}}, f, indent=2)
    return path


TARGET = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else packages_filter()
PATTERN = re.compile(r"^(?P<file>/\S+?\.(?:cs|txt))\(\d+,\d+\): error (?P<id>RS001[67]): Symbol '(?P<symbol>.+?)' is (?:not )?part of the declared")


def project_dir(source_file):
    directory = os.path.dirname(source_file)
    while directory != "/" and not any(name.endswith(".csproj") for name in os.listdir(directory)):
        directory = os.path.dirname(directory)
    return directory


def update_once():
    result = subprocess.run(["dotnet", "build", TARGET, "-nologo", "-clp:NoSummary"], cwd=ROOT, capture_output=True, text=True)
    additions, removals = {}, {}
    for line in result.stdout.splitlines():
        match = PATTERN.match(line.strip())
        if match:
            target = additions if match["id"] == "RS0016" else removals
            target.setdefault(project_dir(match["file"]), set()).add(match["symbol"])
    changed = False
    for directory in set(additions) | set(removals):
        path = os.path.join(directory, "PublicAPI.Unshipped.txt")
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f.read().splitlines() if l]
        header = [l for l in lines if l.startswith("#")] or ["#nullable enable"]
        body = {l for l in lines if not l.startswith("#")}
        new_body = (body - removals.get(directory, set())) | additions.get(directory, set())
        if new_body != body:
            changed = True
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(header + sorted(new_body, key=str.casefold)) + "\n")
            print(f"{os.path.relpath(path, ROOT)}: +{len(additions.get(directory, ()))} -{len(removals.get(directory, ()))}")
    return changed, result.returncode


for attempt in range(4):
    changed, code = update_once()
    if not changed:
        print("public API files are up to date" if code == 0 else "build failed for another reason; run dotnet build")
        sys.exit(code)
sys.exit(1)
