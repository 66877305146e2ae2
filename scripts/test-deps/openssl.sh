# The classroom TLS test makes a CA and a server certificate with Debian's openssl command.
if ! command -v openssl >/dev/null; then
    as_root_apt openssl || { say "the classroom TLS test needs the openssl command"; exit 1; }
fi
