#!/usr/bin/env python3
"""Every arrow points down: checks each #include, and each include path a
build gives a source file, against the layers docs/ARCHITECTURE.md states.

  ci/layers.py [--build BUILD_DIR]    (ctest runs it: Lint.LayersPointDown)

The table under "## Layers" in docs/ARCHITECTURE.md is the rule: one row per
folder (`tools/*`: each folder under tools/ on its own), and what a file in
it may use besides its own folder: folders, or single files. A quoted
#include is resolved as the compiler would find it in this tree (beside the
including file, else the one tracked file of that name; names are unique);
an include of a folder the row does not list is an arrow the wrong way. With
--build, the -I paths of BUILD_DIR/compile_commands.json are checked too:
linking a library gives its include path, so a link against the layers shows
there even before any file includes from it. Exit 0 if all is well, 1 with
one line per arrow the wrong way, 2 if the table cannot be read.
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = re.compile(r".*\.(c|h|cpp|hpp)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_layers():
    """{folder: [allowed folders or files]} from docs/ARCHITECTURE.md."""
    path = os.path.join(ROOT, "docs", "ARCHITECTURE.md")
    rows, in_section = {}, False
    with open(path, encoding="utf-8") as doc:
        for line in doc:
            if line.startswith("## "):
                in_section = line.strip() == "## Layers"
                continue
            if not in_section or not line.startswith("| `"):
                continue
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            folder = cells[0].strip("`")
            rows[folder] = re.findall(r"`([^`]+)`", cells[1]) if len(cells) > 1 else []
    if not rows:
        sys.exit(f"layers: no table under '## Layers' in {path}")
    return rows


def component(path, layers):
    """The row a tracked path belongs to ('tools/csd-report' for tools/*), or None."""
    best = None
    for folder in layers:
        if folder.endswith("/*"):
            base = folder[:-1]
            if path.startswith(base) and "/" in path[len(base):]:
                name = base + path[len(base):].split("/")[0]
                if best is None or len(name) > len(best[0]):
                    best = (name, folder)
        elif path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(best[0]):
                best = (folder, folder)
    return best


def allowed(source_path, target_path, layers):
    """True if a file at source_path may use target_path."""
    source, target = component(source_path, layers), component(target_path, layers)
    if source is None or target is None:
        return False
    if source[0] == target[0]:
        return True
    return any(target_path == use or target_path.startswith(use + "/") for use in layers[source[1]])


def reachable(row, layers):
    """What a row's files may use directly or through what they use: a
    library's public headers bring its own include paths along."""
    seen, todo = set(), list(layers[row])
    while todo:
        use = todo.pop()
        if use in seen:
            continue
        seen.add(use)
        below = component(use, layers)
        if below is not None:
            todo.extend(layers[below[1]])
    return seen


def tracked_sources():
    out = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True,
                         check=True)
    return [path for path in out.stdout.split() if SOURCE.match(path)]


def check_includes(layers, sources):
    by_name = {}
    for path in sources:
        by_name.setdefault(os.path.basename(path), []).append(path)
    problems = []
    for path in sources:
        if component(path, layers) is None:
            problems.append(f"{path}: in no folder of the table ('## Layers')")
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as text:
            for number, line in enumerate(text, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                name = match.group(1)
                beside = os.path.normpath(os.path.join(os.path.dirname(path), name))
                if beside in sources:
                    target = beside
                elif len(by_name.get(os.path.basename(name), [])) == 1:
                    target = by_name[os.path.basename(name)][0]
                else:
                    found = by_name.get(os.path.basename(name), [])
                    if found:
                        problems.append(f"{path}:{number}: \"{name}\" is ambiguous: {found}")
                    continue  # a generated or system header
                if not allowed(path, target, layers):
                    problems.append(f"{path}:{number}: includes {target}, which "
                                    f"{component(path, layers)[0]}/ may not use")
    return problems


def check_include_paths(layers, build_dir):
    commands = os.path.join(build_dir, "compile_commands.json")
    with open(commands, encoding="utf-8") as listing:
        entries = json.load(listing)
    problems = set()
    for entry in entries:
        source = os.path.relpath(entry["file"], ROOT)
        if source.startswith("..") or component(source, layers) is None:
            continue
        words = entry.get("command", " ".join(entry.get("arguments", []))).split()
        for i, word in enumerate(words):
            include = word[2:] if word.startswith("-I") and len(word) > 2 else (
                words[i + 1] if word in ("-I", "-isystem") and i + 1 < len(words) else None)
            if include is None:
                continue
            folder = os.path.relpath(os.path.abspath(os.path.join(entry["directory"], include)),
                                     ROOT)
            if folder.startswith("..") or component(folder, layers) is None:
                continue  # the system's, or the build's own
            row = component(source, layers)
            uses = reachable(row[1], layers)
            if not (component(folder, layers)[0] == row[0] or any(
                    folder == use or folder.startswith(use + "/") or use.startswith(folder + "/")
                    for use in uses)):
                problems.add(f"{source}: built with -I {folder}, which {row[0]}/ may not use "
                             "(a link against the layers)")
    return sorted(problems)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", help="a build directory whose compile_commands.json to check")
    args = parser.parse_args()
    layers = read_layers()
    sources = tracked_sources()
    problems = check_includes(layers, sources)
    if args.build:
        problems += check_include_paths(layers, args.build)
    for problem in problems:
        print(f"layers: {problem}", file=sys.stderr)
    if problems:
        count = f"{len(problems)} arrow points" if len(problems) == 1 else \
            f"{len(problems)} arrows point"
        print(f"layers: {count} the wrong way (the rule: docs/ARCHITECTURE.md, '## Layers')",
              file=sys.stderr)
        return 1
    print(f"layers: {len(sources)} sources, {len(layers)} folders: every arrow points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
