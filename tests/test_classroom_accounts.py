"""Cohorts, accounts and rosters of classroom mode (classroom/accounts.py, roster.py, commands.py)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from citylab.cli import main
from citylab.errors import ClassroomError
from classroom import passwords
from classroom.accounts import SHARED_SITE, Account, Classroom
from classroom.mosquitto import mosquitto_acl, write_broker_files

HEADER = "name,email,site\n"


@pytest.fixture
def classroom(tmp_path: Path) -> Classroom:
    return Classroom(tmp_path / "classroom.sqlite")


def roster(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def forty(tmp_path: Path) -> Path:
    lines = [f"Trainee {i:02d},trainee{i:02d}@example.org,site-{i:02d}" for i in range(1, 41)]
    return roster(tmp_path, HEADER + "\n".join(lines) + "\n")


def test_a_cohort_of_forty_in_one_import(classroom: Classroom, tmp_path: Path) -> None:
    started = time.monotonic()
    imported = classroom.import_roster("spring", forty(tmp_path))
    elapsed = time.monotonic() - started
    assert len(imported) == 40
    assert {a.site for a, _ in imported} == {f"site-{i:02d}" for i in range(1, 41)}
    assert len({a.username for a, _ in imported}) == 40
    assert all(a.role == "trainee" and a.cohort == "spring" and a.active for a, _ in imported)
    assert classroom.authenticate("trainee07", imported[6][1]) == imported[6][0]
    assert [(c.name, c.trainees, c.active) for c in classroom.cohorts()] == [("spring", 40, 40)]
    assert elapsed < 30, f"importing 40 trainees took {elapsed:.1f} s"


def test_unicode_names_are_kept_and_usernames_come_from_emails(classroom: Classroom, tmp_path: Path) -> None:
    path = roster(tmp_path, HEADER + "Zoë Ngó,Zoe.Ngo@example.org,zoe\n李小龙,li@example.org,li\n"
                  "Ana Lima,ana@example.org,ana\nAna Souza,ana@example.com,ana-2\n")
    accounts = {a.site: a for a, _ in classroom.import_roster("spring", path)}
    assert accounts["zoe"].name == "Zoë Ngó" and accounts["zoe"].username == "zoe.ngo"
    assert accounts["li"].name == "李小龙"
    # Two emails with the same local part: the second gets a number.
    assert (accounts["ana"].username, accounts["ana-2"].username) == ("ana", "ana2")
    assert classroom.account("zoe.ngo") == accounts["zoe"]


@pytest.mark.parametrize("text, fragments", [
    (HEADER + "Ann,ann@x.org,ann\nBen,ben@x.org,ann\n", ["line 3", "site 'ann' is already given to line 2"]),
    (HEADER + "Ann,ann@x.org,ann\nBen,ANN@x.org,ben\n", ["line 3", "email 'ANN@x.org' is already on line 2"]),
    (HEADER + "Ann,ann@x.org,ann\nBen,ben.x.org,ben\n", ["line 3", "'ben.x.org' is not an email address"]),
    (HEADER + "Ann,ann @x.org,ann\n", ["line 2", "not an email address"]),
    ("name,email\nAnn,ann@x.org\n", ["line 1", "lacks the column site"]),
    ("full name,mail,site\nAnn,ann@x.org,ann\n", ["line 1", "lacks the columns name, email"]),
    (HEADER + "Ann,ann@x.org,Ann Site\n", ["line 2", "site 'Ann Site' is not a valid id"]),
    (HEADER + "Ann,ann@x.org," + "a" * 33 + "\n", ["line 2", "is not a valid id"]),
    (HEADER + "Ann,ann@x.org,city\n", ["line 2", "site 'city' is the shared city"]),
    (HEADER + "Ann,ann@x.org,ann\n,ben@x.org,ben\n", ["line 3", "the name is empty"]),
    (HEADER + "Ann,ann@x.org,ann\nBen,ben@x.org\n", ["line 3", "has 2 values but the header has 3 columns"]),
    (HEADER, ["has a header but no trainees"]),
    ("", ["is empty"]),
])
def test_a_bad_roster_names_its_line_and_creates_nothing(classroom: Classroom, tmp_path: Path, text: str,
                                                        fragments: list[str]) -> None:
    path = roster(tmp_path, text)
    with pytest.raises(ClassroomError) as caught:
        classroom.import_roster("spring", path)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    assert classroom.cohorts() == [] and classroom.accounts() == []


def test_a_roster_that_is_not_utf8_is_refused(classroom: Classroom, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "Zoë,zoe@x.org,zoe\n").encode("latin-1"))
    with pytest.raises(ClassroomError, match="is not UTF-8 text"):
        classroom.import_roster("spring", path)


def test_a_spreadsheet_export_with_bom_extra_columns_and_blank_lines_imports(classroom: Classroom,
                                                                            tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeffSite,Name,Email,Notes\r\nann,Ann,ann@x.org,front row\r\n\r\n".encode("utf-8"))
    [(account, _)] = classroom.import_roster("spring", path)
    assert (account.name, account.email, account.site) == ("Ann", "ann@x.org", "ann")


def test_a_clash_with_an_existing_account_on_line_40_leaves_everything_as_it_was(classroom: Classroom,
                                                                                 tmp_path: Path) -> None:
    classroom.create_cohort("autumn")
    classroom.add_account(username="old", name="Old", email="old@example.org", role="trainee", site="site-40",
                          cohort="autumn", password="an old password")
    with pytest.raises(ClassroomError, match=r"line 41: site 'site-40' already belongs to 'old'"):
        classroom.import_roster("spring", forty(tmp_path))
    assert [c.name for c in classroom.cohorts()] == ["autumn"]
    assert [a.username for a in classroom.accounts()] == ["old"]


def test_login_passwords(classroom: Classroom) -> None:
    classroom.create_cohort("spring")
    alice = classroom.add_account(username="alice", name="Alice", email="alice@x.org", role="trainee",
                                  site="alice", cohort="spring", password="correct horse")
    assert classroom.authenticate("alice", "correct horse") == alice
    assert classroom.authenticate("alice", "wrong horse") is None
    assert classroom.authenticate("nobody", "correct horse") is None
    new = classroom.reset_password("alice")
    assert classroom.authenticate("alice", "correct horse") is None
    assert classroom.authenticate("alice", new) == alice
    classroom.set_password("alice", "battery staple")
    assert classroom.authenticate("alice", "battery staple") == alice
    with pytest.raises(ClassroomError, match="at least 8 characters"):
        classroom.set_password("alice", "short")
    classroom.revoke("alice")
    assert classroom.authenticate("alice", "battery staple") is None
    assert classroom.account("alice") == Account("alice", "Alice", "alice@x.org", "trainee", "alice", "spring", False)
    with pytest.raises(ClassroomError, match="there is no account 'bob'"):
        classroom.revoke("bob")


def test_passwords_are_never_stored_in_plain(classroom: Classroom, tmp_path: Path) -> None:
    imported = classroom.enrol_roster("spring", forty(tmp_path))
    raw = (tmp_path / "classroom.sqlite").read_bytes()
    for wal in tmp_path.glob("classroom.sqlite-wal"):
        raw += wal.read_bytes()
    for enrolment in imported:
        assert enrolment.password.encode() not in raw and enrolment.mqtt_password.encode() not in raw
    assert stat.S_IMODE(os.stat(tmp_path / "classroom.sqlite").st_mode) == 0o600


def test_account_rules(classroom: Classroom) -> None:
    common = dict(name="X", password="long enough", cohort=None)
    with pytest.raises(ClassroomError, match="needs a site of their own"):
        classroom.add_account(username="x", email="x@x.org", role="trainee", site=None, **common)
    with pytest.raises(ClassroomError, match="an instructor has no site"):
        classroom.add_account(username="x", email="x@x.org", role="instructor", site="x", **common)
    with pytest.raises(ClassroomError, match="role 'admin' is not one of instructor, trainee"):
        classroom.add_account(username="x", email="x@x.org", role="admin", site=None, **common)
    with pytest.raises(ClassroomError, match="username 'Bad Name' is not valid"):
        classroom.add_account(username="Bad Name", email="x@x.org", role="instructor", site=None, **common)
    with pytest.raises(ClassroomError, match="reserved for the server's own services"):
        classroom.add_account(username="citylab-service", email="x@x.org", role="instructor", site=None, **common)
    with pytest.raises(ClassroomError, match=f"site '{SHARED_SITE}' is the shared city"):
        classroom.add_account(username="x", email="x@x.org", role="trainee", site=SHARED_SITE, **common)
    with pytest.raises(ClassroomError, match="cohort 'nope' does not exist"):
        classroom.add_account(username="x", email="x@x.org", role="trainee", site="x", name="X",
                              password="long enough", cohort="nope")
    classroom.add_account(username="ines", email="ines@x.org", role="instructor", site=None, **common)
    with pytest.raises(ClassroomError, match="email 'INES@x.org' already has an account, 'ines'"):
        classroom.add_account(username="ines2", email="INES@x.org", role="instructor", site=None, **common)
    classroom.create_cohort("spring")
    with pytest.raises(ClassroomError, match="cohort 'spring' already exists"):
        classroom.create_cohort("spring")


def test_a_classroom_is_shared_by_threads_and_processes(classroom: Classroom, tmp_path: Path) -> None:
    imported = classroom.import_roster("spring", forty(tmp_path))
    other = Classroom(tmp_path / "classroom.sqlite")  # as the dashboard's process would open it
    failures: list[str] = []

    def check(account: Account, password: str) -> None:
        if other.authenticate(account.username, password) != account:
            failures.append(account.username)

    threads = [threading.Thread(target=check, args=pair) for pair in imported[:12]]
    for thread in threads:
        thread.start()
    other.revoke("trainee40")  # a write while others read
    for thread in threads:
        thread.join()
    assert failures == []
    assert classroom.account("trainee40").active is False  # type: ignore[union-attr]


def test_mqtt_hashes_are_mosquittos_own_format() -> None:
    # A hash mosquitto_passwd wrote checks with ours, and ours has its shape.
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    path = folder / f"passwd-{os.getpid()}"
    try:
        subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "alice", "s3cret-pass"], check=True)
        stored = path.read_text().strip().split(":", 1)[1]
    finally:
        path.unlink(missing_ok=True)
    assert stored.startswith("$7$")
    assert passwords.check_mqtt("s3cret-pass", stored)
    assert not passwords.check_mqtt("s3cret-pasS", stored)
    ours = passwords.hash_mqtt("s3cret-pass")
    kind, iterations, salt, digest = ours.split("$")[1:]
    assert (kind, iterations, len(salt), len(digest)) == ("7", "1000", 16, 88)


def test_broker_files(classroom: Classroom, tmp_path: Path) -> None:
    classroom.create_cohort("spring")
    for name in ("alice", "bob"):
        classroom.add_account(username=name, name=name.title(), email=f"{name}@x.org", role="trainee", site=name,
                              cohort="spring", password="long enough", mqtt_password=f"mqtt of {name}")
    classroom.add_account(username="ines", name="Inès", email="ines@x.org", role="instructor", site=None,
                          cohort=None, password="long enough", mqtt_password="mqtt of ines")
    classroom.add_account(username="nomqtt", name="No", email="no@x.org", role="trainee", site="no",
                          cohort="spring", password="long enough")
    classroom.revoke("bob")
    files = write_broker_files(classroom, tmp_path / "out")
    lines = files.passwd.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["citylab-service", "alice", "ines"]
    assert passwords.check_mqtt("mqtt of alice", lines[1].split(":", 1)[1])
    acl = files.acl.read_text()
    assert "user alice\ntopic readwrite citylab/alice/#\ntopic read citylab/city/#\n" in acl
    assert "user ines\ntopic readwrite #\n" in acl and "user citylab-service\ntopic readwrite #\n" in acl
    assert "bob" not in acl and "nomqtt" not in acl and "pattern" not in acl
    assert acl == mosquitto_acl(classroom.broker_users())


def test_cli_imports_forty_into_a_passwords_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, out = tmp_path / "data", tmp_path / "passwords.csv"
    assert main(["cohort", "import", str(forty(tmp_path)), "--cohort", "spring", "--data", str(data),
                 "--passwords-out", str(out)]) == 0
    assert "40 trainees added to cohort 'spring' (new)" in capsys.readouterr().out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = out.read_text().splitlines()
    assert rows[0] == "username,name,email,site,login_password,mqtt_password" and len(rows) == 41
    username, _, _, site, password, _ = rows[5].split(",")
    assert Classroom(data / "classroom.sqlite").authenticate(username, password).site == site  # type: ignore[union-attr]
    # The same file again: refused before anything is created.
    assert main(["cohort", "import", str(forty(tmp_path)), "--cohort", "autumn", "--data", str(data),
                 "--passwords-out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["cohort", "list", "--data", str(data)]) == 0
    assert capsys.readouterr().out.splitlines() == ["cohort  trainees  active", "spring  40        40"]


def test_cli_prints_the_table_and_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    path = roster(tmp_path, HEADER + "Zoë Ngó,zoe@x.org,zoe\n")
    assert main(["cohort", "import", str(path), "--cohort", "spring", "--data", data]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["username", "name", "site", "login", "password", "MQTT", "password"]
    assert out[1].split()[:4] == ["zoe", "Zoë", "Ngó", "zoe"]
    bad = roster(tmp_path, HEADER + "Bob,bob@x.org,bob\nBo,bo@x.org,bob\n", "bad.csv")
    assert main(["cohort", "import", str(bad), "--cohort", "spring", "--data", data]) == 1
    err = capsys.readouterr().err
    assert err == f"citylab: error: {bad}, line 3: site 'bob' is already given to line 2; every trainee needs " \
                  "a site of their own\n"
    assert main(["account", "add", "ines", "--name", "Inès", "--email", "ines@x.org", "--instructor",
                 "--data", data]) == 0
    assert "instructor 'ines' added" in capsys.readouterr().out
    assert main(["account", "reset-password", "zoe", "--mqtt", "--data", data]) == 0
    assert "new MQTT password of 'zoe'" in capsys.readouterr().out
    assert main(["account", "revoke", "zoe", "--data", data]) == 0
    assert "'zoe' is revoked" in capsys.readouterr().out
    assert main(["account", "list", "--data", data]) == 0
    listing = capsys.readouterr().out
    assert "revoked" in listing.splitlines()[2] and "ines" in listing.splitlines()[1]
    assert main(["account", "revoke", "nobody", "--data", data]) == 1
    assert capsys.readouterr().err == "citylab: error: there is no account 'nobody'\n"
    assert main(["cohort", "broker-files", "--out", str(tmp_path / "files"), "--data", data]) == 0
    assert "(2 broker users)" in capsys.readouterr().out  # the service and ines: zoe is revoked
    assert (tmp_path / "files" / "mosquitto.conf").is_file()


def test_the_schema_is_plain_sqlite(classroom: Classroom) -> None:
    with sqlite3.connect(classroom.path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert tables == {"cohorts", "accounts", "service"} and mode == "wal"


def test_the_service_password_comes_from_the_configuration_or_is_made_once(tmp_path: Path) -> None:
    from citylab.config import load_settings
    from citylab.errors import ConfigError
    from classroom.serve import classroom_of

    made = Classroom(tmp_path / "classroom.sqlite").service_password()
    assert len(made) == 20 and Classroom(tmp_path / "classroom.sqlite").service_password() == made
    settings = load_settings({"data_dir": tmp_path}, {"CITYLAB_SERVICE_PASSWORD": "f" * 40})
    assert "f" * 40 not in repr(settings)
    classroom = classroom_of(settings)
    assert classroom.service_password() == "f" * 40
    [service] = [u for u in classroom.broker_users() if u.role == "service"]
    assert passwords.check_mqtt("f" * 40, service.mqtt_hash)
    with pytest.raises(ConfigError, match="must be a real secret"):
        load_settings({}, {"CITYLAB_SERVICE_PASSWORD": "change-me-service-password"})
    assert load_settings({"classroom": None}, {"CITYLAB_CLASSROOM": "yes"}).classroom is True
    with pytest.raises(ConfigError, match="CITYLAB_CLASSROOM='maybe' is not a valid flag"):
        load_settings({}, {"CITYLAB_CLASSROOM": "maybe"})


def test_the_reference_mosquitto_conf_is_what_broker_files_writes() -> None:
    from classroom.mosquitto import mosquitto_conf

    reference = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "mosquitto.conf"
    assert reference.read_text() == mosquitto_conf("/mosquitto/config"), \
        "deploy/mosquitto/mosquitto.conf is out of date: write it again from classroom.mosquitto.mosquitto_conf"


@pytest.mark.parametrize("allowed, requested, covered", [
    ("citylab/alice/#", "citylab/alice/aq-01/telemetry", True),
    ("citylab/alice/#", "citylab/alice/+/cmd", True),
    ("citylab/alice/#", "citylab/alice/#", True),
    ("citylab/alice/#", "citylab/alice", True),  # "a/#" matches "a" itself
    ("citylab/alice/#", "citylab/+/aq-01/telemetry", False),
    ("citylab/alice/#", "citylab/#", False),
    ("citylab/alice/#", "#", False),
    ("citylab/alice/#", "citylab/alicex/aq-01/telemetry", False),
    ("citylab/alice/#", "citylab/bob/aq-01/telemetry", False),
    ("#", "citylab/+/+/telemetry", True),
    ("citylab/+/x", "citylab/+/x", True),
    ("citylab/+/x", "citylab/a/x/y", False),
])
def test_a_requested_filter_must_stay_inside_an_allowed_one(allowed: str, requested: str, covered: bool) -> None:
    from classroom.acl import filter_covers

    assert filter_covers(allowed, requested) is covered
