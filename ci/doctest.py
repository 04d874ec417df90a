#!/usr/bin/env python3
"""Runs the ```console blocks of a Markdown file and compares their output.

    ci/doctest.py BUILD_DIR DOC.md [--keep]

A ```console block is a terminal session: `$ ` starts a command, `> ` goes
on with it, every other line is what the commands before it printed, and
`[N]` alone on a line is a non-zero exit status. Each block's commands run
one after another in a bash of its own (cram's, python3-cram), in a fresh
temporary directory that holds `build` (the build tree) and the source
tree's fixtures/, bench/, ci/ and impl/, and PATH starts with build/bin.

Expected output may hold placeholders for what varies from run to run:

    PORT, PID, N   a whole word: any whole number
    0.094, +6.6    a number with a decimal point (not part of an address
                   or a version, 127.0.0.1, 0.1.0): any number, as measured
                   (with a sign: either sign)
    …              (U+2026) any text within the line
    ...            alone on a line: any number of lines, none included

In a line with a placeholder, a run of spaces matches any run of spaces
(columns move when a number gets wider).

A command ending in `&` runs in the background in a process group of its
own; its output is held back and shown at the points a reader would wait
for it: as many lines as the block shows right under the command (its
`listening on` line: the runner waits for them), and the rest when `kill %N`
or `wait %N` stops it. `%N` counts as an interactive bash does (1 + the highest
job still running). A job still running at the end of a block is reported,
which fails the block.

A block whose first line is `# not run by the doc tests: REASON` is not
run; the runner lists it with its reason.

Each block runs in a network namespace and a PID namespace of its own
(unshare), and so does the whole run: the docs' fixed ports (9000) cannot
collide with anything else under `ctest -j`, and nothing a block started
outlives it.
Exit status: 0 every block's output matched, 1 one did not, 77 the
namespaces could not be made (ctest reports the test as skipped).
"""

import codecs
import difflib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
NOT_RUN = re.compile(r'^# not run by the doc tests: (\S.*)$')


def blocks(path):
    """Yields (first line number, info string, lines) for each fenced block."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^```(\S*)\s*$', lines[i])
        if m:
            start, info, body = i + 1, m.group(1), []
            i += 1
            while i < len(lines) and not lines[i].startswith('```'):
                body.append(lines[i])
                i += 1
            yield start + 1, info, body
        i += 1


def line_regex(text):
    """The expected line as a regex, or None when it is to match exactly."""
    tokens = re.split(r'(\bPORT\b|\bPID\b|\bN\b|(?<![\d.])[-+]?\d+\.\d+(?![\d.])|…)', text)
    if len(tokens) == 1:
        return None
    out = []
    for k, tok in enumerate(tokens):
        if k % 2 == 0:
            out.append(re.sub(r'(?:\\ ){2,}', ' +', re.escape(tok)))
        elif tok == '…':
            out.append('.*?')
        elif '.' in tok:
            out.append(r'[-+]?\d+(?:\.\d+)?' if tok[0] in '+-' else r'\d+(?:\.\d+)?')
        else:
            out.append(r'\d+')
    return ''.join(out)


def segment_matches(expected, actual):
    """Do the actual lines of one command match the expected ones?"""
    pattern = []
    for e in expected:
        if e == '...':
            pattern.append(r'(?:[^\n]*\n)*?')
        else:
            e = e.rstrip()  # trailing blanks are not seen on a page
            rx = line_regex(e)
            pattern.append((rx if rx is not None else re.escape(e)) + r'\n')
    return re.fullmatch(''.join(pattern), ''.join(a.rstrip() + '\n' for a in actual)) is not None




def convert(doc):
    """The doc's console blocks, each as cram test lines and what maps them back.

    Returns (blocks, not_run): each block is (lines, meta), meta[i] being
    (doc line, kind) for line i, kind 'cmd', 'more', 'out' or 'hidden'."""
    runs, not_run = [], []
    for first, info, body in blocks(doc):
        if info != 'console':
            if any(b.startswith('$ ') for b in body):
                sys.exit(f'{doc}:{first - 1}: a block with `$ ` commands is a ```console block')
            continue
        if body and NOT_RUN.match(body[0]):
            not_run.append((first, NOT_RUN.match(body[0]).group(1)))
            continue
        lines, meta = [], []

        def add(text, where, kind, lines=lines, meta=meta):
            lines.append('  ' + text)
            meta.append((where, kind))

        add('$ . "$__csd_prelude"', first - 1, 'hidden')
        for k, text in enumerate(body):
            where = first + k
            if text.startswith('$ '):
                cmd = text[2:]
                bg = re.match(r'^(.*[^&])&\s*(#.*)?$', cmd)
                if bg and not cmd.rstrip().endswith('&&'):
                    shown = 0  # the lines the doc shows under it: wait for them
                    while k + 1 + shown < len(body) and not body[k + 1 + shown].startswith('$ '):
                        shown += 1
                    cmd = f'__csd_bg {shown} {shlex.quote(bg.group(1).strip())}'
                add('$ ' + cmd, where, 'cmd')
            elif text.startswith('> '):
                add(text, where, 'more')
            else:
                add(text, where, 'out')
        add('$ __csd_block_end', first + len(body), 'hidden')
        runs.append((lines, meta))
    return runs, not_run


def segments(cram_lines, meta, postout):
    """Pairs each command with its expected and actual output lines."""
    exp, cur = {}, None
    for i, (_, kind) in enumerate(meta):
        if kind in ('cmd', 'hidden'):
            cur = i
            exp[cur] = []
        elif kind == 'out':
            exp[cur].append(cram_lines[i][2:])
    # postout repeats the command lines (and their `> ` lines) in order, each
    # followed by what it printed and, when non-zero, its [status].
    act, cur = {}, None
    it = iter([i for i, (_, k) in enumerate(meta) if k in ('cmd', 'hidden')])
    for line in postout or []:
        text = line.decode('utf-8', 'replace').rstrip('\n')
        if text.endswith(' (esc)'):  # cram escaped a tab or a control byte
            text = codecs.escape_decode(text[:-6].encode())[0].decode('utf-8', 'replace')
        if text.endswith(' (no-eol)'):
            text = text[:-9]
        if text.startswith('  $ '):
            cur = next(it)
            act[cur] = []
        elif text.startswith('  > '):
            continue
        elif cur is not None:
            act[cur].append((text[2:] if text.startswith('  ') else text).rstrip())
    return exp, act


# Each block's shell: a network namespace (its own loopback, where the docs'
# fixed ports are free and no TIME_WAIT of another block lingers) and a PID
# namespace, whose processes all die when its first one, the shell, ends.
NAMESPACES = ['unshare', '--net', '--pid', '--fork', '--kill-child', '--mount-proc']
# In a chroot (a fresh root made with debootstrap) / is no mount point, and
# unshare cannot make it private: there /proc alone is made private
# (--mount-proc does so before it mounts), which keeps the new /proc from the
# outside as well. main() finds out which works, and tells the blocks.
IN_A_CHROOT = ['--propagation', 'unchanged']


def block_shell():
    """The command a block's shell runs under."""
    flags = IN_A_CHROOT if os.environ.get('CSD_DOCTEST_IN_A_CHROOT') == '1' else []
    return NAMESPACES + flags + ['bash', '-c', 'ip link set lo up && exec bash "$@"', 'bash']


def run(build, doc, keep):
    import cram  # pylint: disable=import-outside-toplevel  # python3-cram

    build = os.path.abspath(build)
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path, doc = os.path.abspath(doc), os.path.relpath(os.path.abspath(doc), src)
    runs, not_run = convert(path)
    for where, reason in not_run:
        print(f'{doc}:{where}: not run: {reason}')
    home = tempfile.mkdtemp(prefix='csd-doctest.')
    env = dict(os.environ)
    env['PATH'] = os.path.join(build, 'bin') + ':' + env.get('PATH', '/usr/bin:/bin')
    env['TMPDIR'] = home
    env['__csd_prelude'] = os.path.join(src, 'ci', 'doctest-prelude.sh')
    with open(path, encoding='utf-8') as f:
        doc_lines = f.read().split('\n')
    results = []  # (doc line, kind, expected, actual, doc line of the command's end)
    for n, (lines, meta) in enumerate(runs):
        # Each block in a directory of its own, as if in a fresh checkout.
        work = os.path.join(home, f'block{n + 1}')
        os.mkdir(work)
        os.symlink(build, os.path.join(work, 'build'))
        for d in ('fixtures', 'bench', 'ci', 'impl'):
            os.symlink(os.path.join(src, d), os.path.join(work, d))
        env['__csd_dir'] = work
        os.chdir(work)
        _, postout, _ = cram.test([(l + '\n').encode() for l in lines],
                                  shell=block_shell(), indent=2, env=env)
        exp, act = segments(lines, meta, postout)
        for i, e in exp.items():
            j = i + 1
            while j < len(meta) and meta[j][1] == 'more':
                j += 1
            a = act.get(i, ['doctest: the shell stopped before this command'])
            results.append((meta[i][0], meta[i][1], e, a, meta[j - 1][0]))
    shown = list(doc_lines)
    failed = 0
    # Replace, from the end, each command's expected lines by what it printed.
    for where, kind, e, a, end in sorted(results, reverse=True):
        if segment_matches(e, a):
            continue
        failed += 1
        if kind == 'hidden':  # the prelude, or the end of the block
            shown[where - 1:where - 1] = a
        else:
            shown[end:end + len(e)] = a
    if failed:
        sys.stdout.writelines(difflib.unified_diff(
            [l + '\n' for l in doc_lines], [l + '\n' for l in shown],
            doc, doc + ' (as run)', n=2))
        print(f'{doc}: {failed} command(s) printed something else (- the doc, + the run)')
    ran = len([r for r in results if r[1] == 'cmd'])
    print(f'{doc}: {ran} commands in {len(runs)} blocks run, {failed} differ; '
          f'{len(not_run)} block(s) not run')
    if keep:
        print(f'kept {home}')
    else:
        os.chdir('/')
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failed else 0


def main():
    args = [a for a in sys.argv[1:] if a != '--keep']
    keep = '--keep' in sys.argv
    if len(args) != 2:
        sys.exit('usage: ci/doctest.py BUILD_DIR DOC.md [--keep]')
    if importlib.util.find_spec('cram') is None:
        # python3-cram is Debian's, for Debian's python3: another python3
        # first in PATH (a pyenv) does not see it.
        if sys.executable != '/usr/bin/python3' and os.path.exists('/usr/bin/python3'):
            os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
        sys.exit('doctest: needs python3-cram (ci/install-deps.sh installs it)')
    if not any(info == 'console' for _, info, _ in blocks(args[1])):
        convert(args[1])  # refuses `$ ` lines outside console blocks
        print(f'{args[1]}: no console blocks')
        return 0
    if os.environ.get('CSD_DOCTEST_INSIDE') != '1':
        # Into namespaces of our own: a loopback nobody else uses, and a
        # PID namespace whose processes all die with its first one.
        env = dict(os.environ, CSD_DOCTEST_INSIDE='1')
        base = NAMESPACES
        inner = ['sh', '-c', 'ip link set lo up && exec "$@"', 'sh', sys.executable] + sys.argv
        for prefix in (base, base + IN_A_CHROOT, base[:1] + ['--map-root-user'] + base[1:]):
            env['CSD_DOCTEST_IN_A_CHROOT'] = '1' if prefix == base + IN_A_CHROOT else '0'
            probe = subprocess.run(prefix + ['ip', 'link', 'set', 'lo', 'up'],
                                   capture_output=True, text=True, check=False)
            if probe.returncode == 0:
                # exec: whoever kills this process (ctest at its timeout)
                # kills unshare, and --kill-child the namespace with it.
                os.execvpe(prefix[0], prefix + inner, env)
        print(f'doctest: skipped: cannot make a network and PID namespace '
              f'({probe.stderr.strip()})')
        return SKIP
    return run(args[0], args[1], keep)


if __name__ == '__main__':
    sys.exit(main())
