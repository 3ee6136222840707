#!/usr/bin/python3
"""Checks the code blocks of docs/*.md and README.md against the library.

  check_docs.py --root DIR --include DIR --lib LIBRARY --cli CSHELVE --ini-check HELPER
                [--page FILE]... --cxx COMPILER [ARGS]...

An HTML comment on the line before a fenced block says how to check it:
    <!-- check: WORD... -->
cpp   compile (default)  compiled and linked, not run
      run                compiled, linked and run in an empty folder; must exit 0
      file               the block is a whole file (its own includes and declarations); without
                         this, a block without main() becomes the body of a function
ini   (default)          written to a file and given to ini-check: opened for real when the provider
                         is local or in-memory, validated as far as open() goes without a server for
                         aws-s3; a block without [default] gets `provider = in-memory`
      error=CLASS        ini-check must fail with that error class
      save-as=NAME       also written, as NAME, into the folder of every later run in the same page
      env=NAME=VALUE     that environment variable is set for the check (repeatable); the AWS
                         variables not named are unset, and instance metadata is disabled, so no
                         check reaches a network
      aws-file=KIND      the block is an AWS shared file (KIND credentials or config), not a shelf's
                         INI: saved for the later checks of the page, which find it through
                         AWS_SHARED_CREDENTIALS_FILE or AWS_CONFIG_FILE
sh    (default)          run with bash -e in an empty folder, `cshelve` being the built tool; the
                         block must use the tool
any   skip REASON        not checked (needs a server, shows a synopsis, ...)
text  output             must equal what the previous run block printed
$VAR references in ini blocks are set to a 16-byte dummy for the check, as are the variables named
by environment_key. A block in cpp, ini or sh with neither a check nor a skip cannot slip through:
every such block is checked.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*check:\s*(.*?)\s*-->\s*$")
DUMMY_SECRET = "0123456789abcdef"  # 16 bytes: also a valid AES-128 key

PRELUDE = """#include <cshelve/cshelve.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>
"""


class Block:
    def __init__(self, page, line, language, marker, text):
        self.page, self.line, self.language, self.text = page, line, language, text
        self.words = marker.split() if marker is not None else []

    def has(self, word):
        return word in self.words

    def option(self, name):
        for word in self.words:
            if word.startswith(name + "="):
                return word[len(name) + 1:]
        return None

    def where(self):
        return f"{self.page}:{self.line}"


def blocks_of(path, shown_name):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        language, start = opened.group(1), i
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = MARKER.match(lines[j]) if j >= 0 else None
        end = start + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise SystemExit(f"{shown_name}:{start + 1}: code block never closed")
        blocks.append(Block(shown_name, start + 1, language, marker.group(1) if marker else None,
                            "\n".join(lines[start + 1:end]) + "\n"))
        i = end + 1
    return blocks


class Checker:
    def __init__(self, args, scratch):
        self.args, self.scratch = args, scratch
        self.failures, self.counts = [], {}
        self.saved = {}          # NAME -> text, for the page being checked
        self.last_output = None  # stdout of the last block that ran
        self.bin = os.path.join(scratch, "bin")
        os.makedirs(self.bin)
        os.symlink(os.path.abspath(args.cli), os.path.join(self.bin, "cshelve"))
        self.serial = 0

    def fail(self, block, message):
        self.failures.append(f"{block.where()} ({block.language}): {message}")

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def fresh_folder(self):
        self.serial += 1
        folder = os.path.join(self.scratch, f"run-{self.serial}")
        os.makedirs(folder)
        for name, text in self.saved.items():
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
        return folder

    def environment(self, extra=None):
        env = dict(os.environ)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "")
        env.update(extra or {})
        return env

    # --- cpp -------------------------------------------------------------------------------
    def cpp_source(self, block):
        if block.has("file") or re.search(r"\bint\s+main\s*\(", block.text):
            source = block.text
            if not re.search(r"\bint\s+main\s*\(", source):
                source += "\nint main() { return 0; }\n"
            return source, []
        includes = [l for l in block.text.splitlines() if l.lstrip().startswith("#include")]
        body = [l for l in block.text.splitlines() if not l.lstrip().startswith("#include")]
        source = PRELUDE + "\n".join(includes) + "\n\nint main() {\n" + "\n".join(body) + "\nreturn 0;\n}\n"
        # A fragment declares values only to show them: unused ones are not a mistake there.
        return source, ["-Wno-unused-variable", "-Wno-unused-but-set-variable"]

    def check_cpp(self, block):
        folder = self.fresh_folder()
        source, extra = self.cpp_source(block)
        source_path = os.path.join(folder, "snippet.cpp")
        with open(source_path, "w") as f:
            f.write(source)
        binary = os.path.join(folder, "snippet")
        lib = os.path.abspath(self.args.lib)
        link = [lib, "-Wl,-rpath," + os.path.dirname(lib)]
        if lib.endswith(".a"):
            link += ["-lcurl", "-lpugixml", "-lcrypto", "-lz", "-pthread"]
        command = (self.args.cxx + ["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"] + extra +
                   ["-I" + self.args.include, source_path, "-o", binary] + link)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            self.fail(block, "does not compile:\n" + done.stderr[-3000:] + "\n--- as compiled:\n" + source)
            return
        self.count("cpp compiled")
        if block.has("run"):
            self.run_checked(block, [binary], folder)
            self.count("cpp run")

    # --- ini -------------------------------------------------------------------------------
    def aws_environment(self, block, folder):
        """The AWS variables of a check: none from outside, the page's shared files, the block's own."""
        env = {name: None for name in os.environ if name.startswith("AWS_")}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(folder, "aws-credentials")
        env["AWS_CONFIG_FILE"] = os.path.join(folder, "aws-config")
        for word in block.words:
            if word.startswith("env="):
                name, _, value = word[len("env="):].partition("=")
                env[name] = value.replace("{folder}", folder)
        return env

    def check_ini(self, block):
        kind = block.option("aws-file")
        if kind:
            if kind not in ("credentials", "config"):
                self.fail(block, "aws-file must be credentials or config")
                return
            self.saved["aws-" + kind] = block.text
            self.count("aws file saved")
            return
        folder = self.fresh_folder()
        text = block.text
        if not re.search(r"^\s*\[default\]\s*$", text, re.M):
            text = "[default]\nprovider = in-memory\n\n" + text
        path = os.path.join(folder, block.option("save-as") or "check.ini")
        with open(path, "w") as f:
            f.write(text)
        variables = {name: DUMMY_SECRET for name in re.findall(r"=\s*\$(\w+)", text)}
        for name in re.findall(r"^\s*environment_key\s*[=:]\s*(\w+)", text, re.M):
            variables[name] = DUMMY_SECRET
        variables.update(self.aws_environment(block, folder))
        env = {name: value for name, value in self.environment(variables).items() if value is not None}
        done = subprocess.run([self.args.ini_check, path], capture_output=True, text=True, timeout=60,
                              cwd=folder, env=env)
        expected_error = block.option("error")
        if expected_error:
            if done.returncode != 1 or not done.stdout.startswith(f"error: {expected_error}:"):
                self.fail(block, f"expected error {expected_error}, got: {done.stdout.strip()} {done.stderr.strip()}")
                return
        elif done.returncode != 0:
            self.fail(block, f"ini-check: {done.stdout.strip()} {done.stderr.strip()}")
            return
        if block.option("save-as"):
            self.saved[block.option("save-as")] = text
        self.count("ini checked")

    # --- sh --------------------------------------------------------------------------------
    def check_sh(self, block):
        if not re.search(r"(^|[\s|;&(])cshelve\s", block.text):
            self.fail(block, "a sh block that does not use the cshelve tool must be marked skip")
            return
        folder = self.fresh_folder()
        self.run_checked(block, ["bash", "-e", "-o", "pipefail", "-c", block.text], folder)
        self.count("sh run")

    def run_checked(self, block, command, folder):
        done = subprocess.run(command, capture_output=True, timeout=120, cwd=folder, env=self.environment())
        self.last_output = done.stdout.decode("utf-8", errors="replace")
        if done.returncode != 0:
            self.fail(block, f"exited {done.returncode}:\n{self.last_output}"
                             f"{done.stderr.decode('utf-8', errors='replace')}")
            self.last_output = None

    def check_output(self, block):
        if self.last_output is None:
            self.fail(block, "an output block must follow a block that ran successfully")
            return
        strip = lambda text: "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
        if strip(block.text) != strip(self.last_output):
            self.fail(block, f"the documented output differs from the real one:\n{self.last_output}")
            return
        self.count("output compared")

    def check_page(self, blocks):
        self.saved, self.last_output = {}, None
        for block in blocks:
            if block.has("skip"):
                if len(block.words) < 2:
                    self.fail(block, "skip needs a reason")
                self.count("skipped")
            elif block.has("output"):
                self.check_output(block)
            elif block.language == "cpp":
                self.check_cpp(block)
            elif block.language == "ini":
                self.check_ini(block)
            elif block.language == "sh":
                self.check_sh(block)
            elif block.words:
                self.fail(block, f"a check marker on a {block.language or 'plain'} block does nothing")


def main():
    parser = argparse.ArgumentParser()
    for name in ("--root", "--include", "--lib", "--cli", "--ini-check"):
        parser.add_argument(name, required=True)
    parser.add_argument("--cxx", required=True, nargs="+")
    parser.add_argument("--page", action="append", dest="pages",
                        help="check only this page (repeatable; default: README.md and docs/*.md)")
    args = parser.parse_args()
    # Blocks run in folders of their own: every path given must work from there.
    for name in ("root", "include", "lib", "cli", "ini_check"):
        setattr(args, name, os.path.abspath(getattr(args, name)))

    pages = args.pages or [os.path.join(args.root, "README.md")] + sorted(
        glob.glob(os.path.join(args.root, "docs", "*.md")))
    if len(pages) < 2 and not args.pages:
        raise SystemExit("FAIL: no pages under docs/")
    scratch = tempfile.mkdtemp(prefix="cshelve-docs-")
    try:
        checker = Checker(args, scratch)
        total = 0
        for page in pages:
            blocks = blocks_of(page, os.path.relpath(page, args.root))
            total += len(blocks)
            checker.check_page(blocks)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(checker.counts.items()))
    print(f"{len(pages)} pages, {total} code blocks: {summary}")
    if checker.failures:
        print("\n\n".join(checker.failures), file=sys.stderr)
        print(f"{len(checker.failures)} blocks failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
