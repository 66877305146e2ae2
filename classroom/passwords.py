"""Password generation and hashing for classroom accounts.

Two kinds of secret, hashed two ways:

- the *login* password a person types at the dashboard: human-typeable,
  hashed with scrypt (``hashlib.scrypt``, memory-hard) as
  ``scrypt$n$r$p$salt$hash``;
- the *MQTT* password a device or lab program connects with: long and random,
  hashed as Mosquitto's own ``$7$`` format (PBKDF2-HMAC-SHA512,
  ``$7$iterations$salt$hash``, exactly what ``mosquitto_passwd`` writes), so
  the Mosquitto password file is a dump of the stored hashes and never needs a
  plain password. PBKDF2 with few iterations is weak for a chosen password,
  which is why MQTT passwords are never chosen by a person: 119 random bits
  cannot be guessed from the hash however cheap each guess is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# Lower-case letters and digits without the look-alikes (0/o, 1/l/i), so a
# password read off a printed slip is typed right the first time.
_LOGIN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_MQTT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
# Mosquitto's own default is 101; more costs every connection a little and
# buys nothing against 119-bit random passwords, so a modest count.
MQTT_ITERATIONS = 1000


def new_login_password() -> str:
    """A random password a person can read and type: ``xxxx-xxxx-xxxx`` (about 59 bits)."""
    groups = ("".join(secrets.choice(_LOGIN_ALPHABET) for _ in range(4)) for _ in range(3))
    return "-".join(groups)


def new_mqtt_password() -> str:
    """A random MQTT password for a program's configuration (20 letters and digits, 119 bits)."""
    # Letters and digits only: a password starting with '-' trips command-line tools.
    return "".join(secrets.choice(_MQTT_ALPHABET) for _ in range(20))


def hash_login(password: str) -> str:
    """The scrypt hash of a login password, with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_login(password: str, stored: str) -> bool:
    """True if ``password`` matches a hash from ``hash_login`` (constant time)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def hash_mqtt(password: str, iterations: int = MQTT_ITERATIONS) -> str:
    """Mosquitto's ``$7$`` hash of an MQTT password, as ``mosquitto_passwd`` writes it."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${_b64(salt)}${_b64(digest)}"


def check_mqtt(password: str, stored: str) -> bool:
    """True if ``password`` matches a Mosquitto ``$7$`` hash (constant time)."""
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations),
                                  dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
