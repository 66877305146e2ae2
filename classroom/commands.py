"""The classroom commands on the ``citylab`` command line.

    citylab cohort create NAME                         a new, empty cohort
    citylab cohort import ROSTER.csv --cohort NAME     a trainee account per line (name,email,site), all or nothing
           [--passwords-out FILE]                      initial passwords into a CSV file instead of the screen
    citylab cohort list                                the cohorts, with their trainees
    citylab cohort show NAME                           a cohort's accounts
    citylab cohort broker-files --out DIR [--reload PID]  Mosquitto's passwd, acl and mosquitto.conf (then SIGHUP)
           [--config-dir PATH] [--tls-dir PATH]        paths as Mosquitto sees them; a TLS listener on 8883
    citylab account add USERNAME --name N --email E (--site S [--cohort C] | --instructor)
    citylab account reset-password USERNAME [--mqtt]   a new login (or MQTT) password, shown once
    citylab account revoke USERNAME                    no more login, no more broker
    citylab account service-password                   the broker password of the server's own services

Every command works on ``<data>/classroom.sqlite`` (``Settings.classroom_db``).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import sys
from pathlib import Path

from citylab.config import Settings
from citylab.errors import ClassroomError
from classroom import passwords
from classroom.accounts import Account, Enrolment
from classroom.rules import SERVICE_USERNAME
from classroom.serve import classroom_of

BROKER_FILES_HINT = ("the broker files are now out of date: run 'citylab cohort broker-files --out DIR --reload PID'"
                     " for Mosquitto (the embedded broker of 'citylab up --classroom' follows by itself)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``citylab cohort`` and ``citylab account`` to the command line."""
    cohort = sub.add_parser("cohort", parents=[common], help="classroom cohorts: create, import a roster, broker files",
                            description="classroom cohorts: create, import a roster, list, write the broker files")
    cohort.set_defaults(run=lambda args, settings: (cohort.print_help(), 2)[1])
    actions = cohort.add_subparsers(metavar="ACTION")
    create = actions.add_parser("create", parents=[common], help="create an empty cohort")
    create.add_argument("name", help="the cohort's name, like spring-2027")
    create.set_defaults(run=cmd_cohort_create)
    imp = actions.add_parser("import", parents=[common], help="a trainee account per line of a roster CSV",
                             description="create a trainee account for every line of a CSV with the columns "
                                         "name,email,site; all of them or, on any problem, none")
    imp.add_argument("roster", type=Path, help="the CSV file (UTF-8, header name,email,site)")
    imp.add_argument("--cohort", required=True, help="the cohort (created if it does not exist)")
    imp.add_argument("--passwords-out", type=Path, metavar="FILE",
                     help="write the initial passwords to this new CSV file (mode 600) instead of the screen")
    imp.set_defaults(run=cmd_cohort_import)
    lst = actions.add_parser("list", parents=[common], help="list the cohorts")
    lst.set_defaults(run=cmd_cohort_list)
    show = actions.add_parser("show", parents=[common], help="list a cohort's accounts")
    show.add_argument("name", help="the cohort")
    show.set_defaults(run=cmd_cohort_show)
    files = actions.add_parser("broker-files", parents=[common], help="write Mosquitto's password and ACL files",
                               description="write Mosquitto's password file (passwd) and ACL file (acl) for every "
                                           "active account and the service account, then optionally reload "
                                           "Mosquitto with SIGHUP")
    files.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write them into")
    files.add_argument("--reload", type=int, metavar="PID", help="send SIGHUP to this Mosquitto process after")
    files.add_argument("--config-dir", metavar="PATH", help="where Mosquitto sees DIR, for the paths in the"
                       " mosquitto.conf written there (default: DIR; in the compose setup /mosquitto/config)")
    files.add_argument("--tls-dir", metavar="PATH", help="add a TLS listener on 8883 with ca.crt, server.crt and"
                       " server.key from PATH as Mosquitto sees it (docs/instructor-server.md, 'TLS')")
    files.set_defaults(run=cmd_broker_files)

    account = sub.add_parser("account", parents=[common], help="classroom accounts: add, reset a password, revoke",
                             description="classroom accounts: add, reset a password, revoke")
    account.set_defaults(run=lambda args, settings: (account.print_help(), 2)[1])
    acts = account.add_subparsers(metavar="ACTION")
    add = acts.add_parser("add", parents=[common], help="add a trainee or an instructor")
    add.add_argument("username", help="the login name, like alice")
    add.add_argument("--name", required=True, help="the display name")
    add.add_argument("--email", required=True, help="the email address")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--site", help="a trainee's own site, like alice")
    who.add_argument("--instructor", action="store_true", help="an instructor (reads and writes every site)")
    add.add_argument("--cohort", help="the trainee's cohort")
    add.set_defaults(run=cmd_account_add)
    reset = acts.add_parser("reset-password", parents=[common], help="give an account a new random password")
    reset.add_argument("username")
    reset.add_argument("--mqtt", action="store_true", help="reset the MQTT (broker) password instead of the login")
    reset.set_defaults(run=cmd_account_reset)
    revoke = acts.add_parser("revoke", parents=[common], help="cut an account off the dashboard and the broker")
    revoke.add_argument("username")
    revoke.set_defaults(run=cmd_account_revoke)
    service = acts.add_parser("service-password", parents=[common],
                              help=f"print the broker password of the server's own services ({SERVICE_USERNAME})")
    service.set_defaults(run=cmd_service_password)
    listing = acts.add_parser("list", parents=[common], help="list the accounts")
    listing.add_argument("--cohort", help="only this cohort")
    listing.set_defaults(run=cmd_account_list)


def cmd_cohort_create(args: argparse.Namespace, settings: Settings) -> int:
    classroom_of(settings).create_cohort(args.name)
    print(f"cohort {args.name!r} created in {settings.classroom_db}")
    return 0


def cmd_cohort_import(args: argparse.Namespace, settings: Settings) -> int:
    out: Path | None = args.passwords_out
    if out is not None and out.exists():
        # Checked before anything is created, so a refusal leaves no account behind.
        raise ClassroomError(f"{out} already exists: choose a new file for the passwords, they are shown only once")
    classroom = classroom_of(settings)
    new_cohort = all(c.name != args.cohort for c in classroom.cohorts())
    enrolments = classroom.enrol_roster(args.cohort, args.roster)
    if out is not None:
        _write_passwords(out, enrolments)
        print(f"{len(enrolments)} trainees added to cohort {args.cohort!r}"
              f"{' (new)' if new_cohort else ''}; their initial passwords are in {out} (mode 600)")
    else:
        rows = [(e.account.username, e.account.name, e.account.site or "", e.password, e.mqtt_password)
                for e in enrolments]
        _table(("username", "name", "site", "login password", "MQTT password"), rows)
        print(f"{len(enrolments)} trainees added to cohort {args.cohort!r}{' (new)' if new_cohort else ''};"
              f" these passwords are shown only once")
    print(f"note: {BROKER_FILES_HINT}", file=sys.stderr)
    return 0


def _write_passwords(path: Path, enrolments: list[Enrolment]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")  # not \r\n: read by shell tools too
        writer.writerow(("username", "name", "email", "site", "login_password", "mqtt_password"))
        for e in enrolments:
            writer.writerow((e.account.username, e.account.name, e.account.email, e.account.site,
                             e.password, e.mqtt_password))


def cmd_cohort_list(args: argparse.Namespace, settings: Settings) -> int:
    cohorts = classroom_of(settings).cohorts()
    if not cohorts:
        print("no cohorts yet: create one with 'citylab cohort import ROSTER.csv --cohort NAME'")
        return 0
    _table(("cohort", "trainees", "active"), [(c.name, str(c.trainees), str(c.active)) for c in cohorts])
    return 0


def cmd_cohort_show(args: argparse.Namespace, settings: Settings) -> int:
    classroom = classroom_of(settings)
    if all(c.name != args.name for c in classroom.cohorts()):
        raise ClassroomError(f"there is no cohort {args.name!r}: see 'citylab cohort list'")
    _accounts_table(classroom.accounts(args.name))
    return 0


def cmd_broker_files(args: argparse.Namespace, settings: Settings) -> int:
    from classroom.mosquitto import write_broker_files

    files = write_broker_files(classroom_of(settings), args.out, config_dir=args.config_dir,
                               tls_dir=args.tls_dir, conf=True)
    print(f"wrote {files.passwd}, {files.acl} and {files.conf} ({files.users} broker users"
          f"{', TLS on 8883' if args.tls_dir else ''})")
    if args.reload is not None:
        try:
            os.kill(args.reload, signal.SIGHUP)
        except ProcessLookupError as exc:
            raise ClassroomError(f"no process {args.reload} to reload: is Mosquitto running? (pidof mosquitto)") from exc
        except PermissionError as exc:
            raise ClassroomError(f"not allowed to signal process {args.reload}: run as Mosquitto's user or root") from exc
        print(f"sent SIGHUP to {args.reload}: Mosquitto rereads both files")
    return 0


def cmd_account_add(args: argparse.Namespace, settings: Settings) -> int:
    password, mqtt_password = passwords.new_login_password(), passwords.new_mqtt_password()
    account = classroom_of(settings).add_account(
        username=args.username, name=args.name, email=args.email,
        role="instructor" if args.instructor else "trainee", site=None if args.instructor else args.site,
        cohort=args.cohort, password=password, mqtt_password=mqtt_password)
    print(f"{account.role} {account.username!r} added\n  login password  {password}\n"
          f"  MQTT password   {mqtt_password}\n(shown only once)")
    print(f"note: {BROKER_FILES_HINT}", file=sys.stderr)
    return 0


def cmd_account_reset(args: argparse.Namespace, settings: Settings) -> int:
    classroom = classroom_of(settings)
    if args.mqtt:
        print(f"new MQTT password of {args.username!r}: {classroom.reset_mqtt_password(args.username)} (shown only once)")
        print(f"note: {BROKER_FILES_HINT}", file=sys.stderr)
    else:
        print(f"new login password of {args.username!r}: {classroom.reset_password(args.username)} (shown only once)")
    return 0


def cmd_account_revoke(args: argparse.Namespace, settings: Settings) -> int:
    classroom_of(settings).revoke(args.username)
    print(f"{args.username!r} is revoked: no dashboard login, no broker connection")
    print(f"note: {BROKER_FILES_HINT}", file=sys.stderr)
    return 0


def cmd_service_password(args: argparse.Namespace, settings: Settings) -> int:
    # For the recorder and dashboard of the compose setup (deploy/.env); made on first use.
    print(classroom_of(settings).service_password())
    return 0


def cmd_account_list(args: argparse.Namespace, settings: Settings) -> int:
    _accounts_table(classroom_of(settings).accounts(args.cohort))
    return 0


def _accounts_table(accounts: list[Account]) -> None:
    _table(("username", "name", "email", "role", "site", "cohort", "state"),
           [(a.username, a.name, a.email, a.role, a.site or "", a.cohort or "", "active" if a.active else "revoked")
            for a in accounts])


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
