# The grader runs trainees' programs under bubblewrap (labs/engine/sandbox.py)
# and the sandbox tests require it: Debian's package.
if ! command -v bwrap >/dev/null; then
    as_root_apt bubblewrap || { say "the sandbox tests need bubblewrap (bwrap)"; exit 1; }
fi
