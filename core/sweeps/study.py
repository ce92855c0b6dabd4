"""A sweep's study and its folder: where Optuna keeps the study (study.db, a SQLite file in the sweep
folder, by default; any Optuna storage URL; or `journal:FILE`, Optuna's journal file for a shared
mount), the folder's record (sweep.json), the trial folders, and what the studio's sweep panel reads
(read_trials, importances). Looking at a study creates and changes nothing.

SWEEPDIR/sweep.json   {"id": ..., "study": NAME, "storage": URL or null (study.db here)}: which study the
                      folder's trials belong to; `id` tells this folder's trials from those another
                      machine trains in a folder of its own for the same study
SWEEPDIR/study.db     the default storage
SWEEPDIR/trial-0003   trial 3's run folder, an ordinary one (resume, fork, sample, the run library);
                      its run.json says {"sweep": {"study": NAME, "trial": 3, "values": {...}}}

Optuna is imported inside the functions: the panel imports TrialRow on the GUI thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import TEMP_NAME
from core.bounded_read import FileRefused, MiB, load_json, loads_json, read_lines
from core.runs import heartbeat
from core.runs.folder import read_lineage, run_files
from core.sweeps.space import from_optuna

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

SWEEP_JSON = "sweep.json"
STUDY_DB = "study.db"
JOURNAL = "journal:"
TRIAL_DIR = re.compile(r"trial-(\d{4,})")
JOURNAL_LINE = MiB  # one record of Optuna's journal: a trial's values and attributes, a few KiB at most
SQLITE_TIMEOUT_S = 30  # how long a write waits for another process's (sqlite3's own 5 s can fail a busy sweep)
MIN_FOR_IMPORTANCE = 4  # complete trials before importances mean anything
# The trial's user attributes the sweep keeps in the study.
DIR_ID = "sweep_dir"  # the sweep.json id of the folder that holds the trial's run folder
SURPLUS = "surplus"  # asked for after the study had its trials: never trained, not shown
ERROR = "error"  # why a failed trial failed
STATES = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "WAITING": "waiting"}


class StudyError(ValueError):
    """A storage, study or sweep folder that cannot be used; one line saying why and what to do."""


@dataclass(frozen=True)
class TrialRow:
    number: int
    state: str  # "running" | "complete" | "pruned" | "failed" | "waiting"
    values: dict[str, object]  # the trial's value of each setting the sweep varies
    reading: float | None  # its best quality reading so far (None before its first)
    step: int  # the step it trained to (its heartbeat's, or its last reading's)
    run_dir: str | None  # its run folder, when it is in this sweep folder


@dataclass(frozen=True)
class SweepRecord:
    id: str
    study: str
    storage: str | None  # as given; None: study.db in the folder
    password_hidden: bool = False  # the storage URL had a password, not written down: pass it again


def optuna() -> Any:
    """Optuna, imported on first use, its logging quiet (warnings only)."""
    import optuna as module

    module.logging.set_verbosity(module.logging.WARNING)
    return module


def trial_dir(sweep_dir: str | Path, number: int) -> Path:
    return Path(sweep_dir) / f"trial-{number:04d}"


def trial_record(run_dir: str | Path) -> dict | None:
    """The run folder's run.json "sweep" record ({"study", "trial", "values"}), or None."""
    record = read_lineage(run_dir).get("sweep")
    return record if isinstance(record, dict) else None


def is_trial_of(run_dir: str | Path, study: str, number: int) -> bool:
    record = trial_record(run_dir)
    return record is not None and record.get("study") == study and record.get("trial") == number


# --- the sweep folder's record --------------------------------------------------------------


def read_sweep_record(sweep_dir: str | Path) -> SweepRecord | None:
    """sweep.json; None when there is none; StudyError naming the file when it is damaged."""
    path = Path(sweep_dir) / SWEEP_JSON
    try:
        raw = load_json(path, what="sweep record")  # within bounds: core/bounded_read.py
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        why = e.reason if isinstance(e, FileRefused) else e
        raise StudyError(f"{path} cannot be read ({why}); it was left as it is") from None
    if not (isinstance(raw, dict) and isinstance(raw.get("id"), str) and isinstance(raw.get("study"), str)
            and isinstance(raw.get("storage"), (str, type(None)))):
        raise StudyError(f"{path} is not a sweep's record (id, study, storage); it was left as it is")
    return SweepRecord(raw["id"], raw["study"], raw["storage"], bool(raw.get("password_hidden")))


def claim_sweep_folder(sweep_dir: str | Path, study: str, storage: str | None) -> SweepRecord:
    """The sweep folder, made when missing, with its record: a new folder gets one; a folder that is a
    sweep's must be this study's; anything else (a run, other files) is refused, never written into."""
    sweep_dir = Path(sweep_dir)
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise StudyError(f"{sweep_dir} is a file; --out names the sweep's folder")
    if found := run_files(sweep_dir):
        raise StudyError(f"{sweep_dir} holds a run ({', '.join(found)}); a sweep needs a folder of its own, "
                         "whose trials are run folders inside it: choose a new one")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    record = read_sweep_record(sweep_dir)
    if record is None:
        journal = _journal_in(sweep_dir, storage)
        other = sorted(n for n in os.listdir(sweep_dir) if not _sweeps_own(n) and not (journal and n.startswith(journal)))
        if other:
            raise StudyError(f"{sweep_dir} holds other things ({', '.join(other[:3])}) and is not a sweep's "
                             f"folder (no {SWEEP_JSON}); choose a new or empty folder for the sweep")
        record = _write_record(sweep_dir, study, storage)
    if record.study != study:
        raise StudyError(f"{sweep_dir} holds the trials of study {record.study!r} ({SWEEP_JSON}): run it with "
                         f"--study {record.study}, or choose another folder for study {study!r}")
    return record


def _sweeps_own(name: str) -> bool:
    return (name in (SWEEP_JSON, STUDY_DB) or name.startswith(f"{STUDY_DB}-") or bool(TRIAL_DIR.fullmatch(name))
            or bool(TEMP_NAME.match(name)))


def _journal_in(sweep_dir: Path, storage: str | None) -> str:
    """The name of the journal file (and the prefix of its lock files) when it lies in the sweep folder."""
    if not storage or not storage.startswith(JOURNAL):
        return ""
    path = Path(storage[len(JOURNAL):]).expanduser().resolve()
    return path.name if path.parent == sweep_dir.resolve() else ""


def _write_record(sweep_dir: Path, study: str, storage: str | None) -> SweepRecord:
    """sweep.json written once: linked into place whole, so of two workers starting together one
    record wins and both read it."""
    shown, hidden = storage, False
    if storage and not storage.startswith(JOURNAL) and _has_password(storage):
        shown, hidden = describe_storage(storage, sweep_dir), True  # a password is not written to a file
    elif storage and storage.startswith(JOURNAL):
        shown = JOURNAL + str(Path(storage[len(JOURNAL):]).expanduser().resolve())  # read from anywhere later
    record = {"id": secrets.token_hex(8), "study": study, "storage": shown, "password_hidden": hidden,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    final = sweep_dir / SWEEP_JSON
    tmp = sweep_dir / f".{SWEEP_JSON}.{secrets.token_hex(4)}.tmp"  # core.atomic's temp naming
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    try:
        os.link(tmp, final)
    except FileExistsError:
        pass  # another worker's record is the folder's
    except OSError:  # a file system without hard links: an exclusive create instead
        with contextlib.suppress(FileExistsError):
            fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(tmp.read_text(encoding="utf-8"))
    finally:
        tmp.unlink(missing_ok=True)
    found = read_sweep_record(sweep_dir)
    assert found is not None  # just written, by this worker or another
    return found


# --- storage ----------------------------------------------------------------------------------


def default_storage(sweep_dir: str | Path) -> str:
    return f"sqlite:///{Path(sweep_dir).resolve() / STUDY_DB}"


def describe_storage(storage: str | None, sweep_dir: str | Path) -> str:
    """The storage as a person may be shown it: a URL's password hidden."""
    if storage is None:
        return str(Path(sweep_dir) / STUDY_DB)
    if storage.startswith(JOURNAL) or "://" not in storage:
        return storage
    try:
        from sqlalchemy.engine import make_url

        return make_url(storage).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: opening it says so
        return storage


def open_storage(storage: str | None, sweep_dir: str | Path, create: bool = True) -> BaseStorage | None:
    """Optuna's storage: `storage` (a URL, or journal:FILE), or the sweep folder's study.db. With
    `create` false (looking only) a SQLite or journal file that is not there is None, never made."""
    shown = describe_storage(storage, sweep_dir)
    url = storage or default_storage(sweep_dir)
    opt = optuna()
    if url.startswith(JOURNAL):
        path = Path(url[len(JOURNAL):]).expanduser()
        if not path.name:
            raise StudyError(f"--storage {url}: name the journal file, e.g. journal:/mnt/shared/sweep.log")
        if not create and not path.is_file():
            return None

        def journal():
            check_journal(path, shown)
            try:
                return opt.storages.JournalStorage(opt.storages.journal.JournalFileBackend(str(path)))
            except OSError as e:
                raise StudyError(f"--storage {shown}: cannot open the journal file ({e.strerror or e})") from None

        return journal() if create else _reader(url, path, journal)
    if "://" not in url:
        raise StudyError(f"--storage {shown}: expected an Optuna storage URL (sqlite:///FILE, "
                         "postgresql://USER@HOST/DB, mysql+pymysql://...) or journal:FILE")
    if not create and url.startswith("sqlite") and not _sqlite_file(url).is_file():
        return None
    if not create:
        return _reader(url, _sqlite_file(url) if url.startswith("sqlite") else None, lambda: _rdb(opt, url, shown, False))
    return _rdb(opt, url, shown, True)


def check_journal(path: Path, shown: str) -> None:
    """StudyError, one line naming the journal, unless `path` is missing (Optuna makes it) or a regular
    file of JSON records, one a line: Optuna would wait forever on a FIFO, read a device without end,
    hold a 1 GiB line whole, and answer garbage with its decoder's message naming no file. Read line by
    line within JOURNAL_LINE (core/bounded_read.py); a last line without its newline is another
    worker's write in progress."""
    try:
        for number, line in enumerate(read_lines(path, JOURNAL_LINE, "journal line", skip_long=False), 1):
            if not line.endswith("\n"):
                break
            try:
                record = loads_json(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise StudyError(f"--storage {shown}: line {number:,} is not a record of Optuna's journal, so "
                                 "this is not a sweep's journal file; name a new file (the sweep makes it) or "
                                 "the journal a sweep wrote") from None
    except FileNotFoundError:
        return
    except FileRefused as e:
        raise StudyError(f"--storage {shown}: {e.reason}; name a new file (the sweep makes it) or the journal "
                         "a sweep wrote") from None
    except OSError as e:
        raise StudyError(f"--storage {shown}: cannot read the journal file ({e.strerror or e})") from None


_READERS: dict[tuple, Any] = {}
_READERS_LOCK = threading.Lock()


def _reader(url: str, file: Path | None, open_it):
    """One storage a URL for looking (the panel looks every few seconds), opened anew when its file is
    another file than before (a sweep removed and started again in the same folder)."""
    try:
        identity = (os.stat(file).st_dev, os.stat(file).st_ino) if file is not None else ()
    except OSError:
        identity = ()
    key = (url, *identity)
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = open_it()
        return _READERS[key]


# A bare postgresql:// URL means SQLAlchemy's default driver, which changed (psycopg2 up to 2.0, psycopg 3
# from 2.1): whichever of the two is installed is used, so the README's URL works with either.
POSTGRES_DRIVERS = (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2"))


def _installed_driver(url: str) -> str:
    """`url` with a bare postgresql:// given the PostgreSQL driver that is installed (unchanged otherwise)."""
    import importlib.util

    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: opening it says so
        return url
    if parsed.drivername != "postgresql":
        return url
    for module, name in POSTGRES_DRIVERS:
        if importlib.util.find_spec(module) is not None:
            return parsed.set(drivername=name).render_as_string(hide_password=False)
    return url  # neither: opening it names the missing driver


def _rdb(opt, url: str, shown: str, create: bool):
    # A server's connections are checked before use: one the server dropped (a restart between two
    # queries) is replaced instead of failing the sweep.
    engine: dict = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    url = _installed_driver(url)
    import sqlalchemy.exc

    for attempt in range(3):
        try:
            return opt.storages.RDBStorage(url, engine_kwargs=engine, skip_table_creation=not create)
        except ImportError as e:
            hint = "; for PostgreSQL: pip install 'psycopg[binary]'" if url.startswith("postgresql") else ""
            raise StudyError(f"--storage {shown}: its database driver is not installed "
                             f"({one_line(e.__cause__ or e)}){hint}") from None
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as e:
            if attempt == 2 or not create:  # two workers making the tables at once: the loser tries again
                raise StudyError(f"--storage {shown}: {one_line(e)}") from None
        except Exception as e:  # a bad URL, a schema from another Optuna: one line
            raise StudyError(f"--storage {shown}: {one_line(e)}") from None
    raise AssertionError("unreachable")


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except Exception:  # not a URL: opening it refused it already
        return False


def _sqlite_file(url: str) -> Path:
    from sqlalchemy.engine import make_url

    return Path(make_url(url).database or "")


def one_line(e: BaseException) -> str:
    """An Optuna or SQLAlchemy error's first line: the database driver's own words where there are some
    (SQLAlchemy's .orig, also under Optuna's StorageInternalError, whose own words blame "invalid data"
    for a server that went away), not the SQL and links."""
    cause: BaseException | None = e
    for _ in range(8):  # the chain of causes, to the driver's error
        if cause is None or getattr(cause, "orig", None) is not None:
            break
        cause = cause.__cause__ or cause.__context__
    found = getattr(cause, "orig", None) if cause is not None else None
    shown = found if isinstance(found, BaseException) else e
    text = str(shown).strip().splitlines()
    return text[0] if text else type(shown).__name__


@contextlib.contextmanager
def storage_errors(shown: str, then: str = ""):
    """Optuna's and SQLAlchemy's errors (a locked database, a lost server) as one StudyError line, `then`
    (what to do next) after it."""
    from sqlalchemy.exc import SQLAlchemyError

    opt = optuna()
    try:
        yield
    except (SQLAlchemyError, opt.exceptions.StorageInternalError) as e:
        raise StudyError(f"the study's storage ({shown}) failed: {one_line(e)}{then}") from None


# --- reading a study --------------------------------------------------------------------------


def load_study(sweep_dir: str | Path, storage: str | None = None, study: str | None = None):
    """The sweep's study to look at (its storage and name from sweep.json unless given), or None when
    there is none yet."""
    sweep_dir = Path(sweep_dir)
    record = read_sweep_record(sweep_dir)
    if storage is None and record is not None:
        if record.password_hidden:
            raise StudyError(f"{sweep_dir}'s study is kept in {record.storage}, whose password is not written "
                             "down: pass the storage URL")
        storage = record.storage
    name = study or (record.study if record is not None else sweep_dir.name)
    shown = describe_storage(storage, sweep_dir)
    with storage_errors(shown):
        opened = open_storage(storage, sweep_dir, create=False)
        if opened is None:
            return None
        try:
            return optuna().load_study(study_name=name, storage=opened)
        except KeyError:  # no such study (yet)
            return None


def read_trials(sweep_dir: str | Path, storage: str | None = None, study: str | None = None) -> list[TrialRow]:
    """Every trial of the sweep, by number (none when the study does not exist yet)."""
    loaded = load_study(sweep_dir, storage, study)
    if loaded is None:
        return []
    with storage_errors(describe_storage(storage, sweep_dir)):
        trials = loaded.get_trials(deepcopy=False)
    return [trial_row(t, sweep_dir, loaded.study_name) for t in sorted(trials, key=lambda t: t.number)
            if not t.user_attrs.get(SURPLUS)]


def trial_row(t: FrozenTrial, sweep_dir: str | Path, study: str) -> TrialRow:
    raw = t.params if t.params else t.system_attrs.get("fixed_params", {})  # a waiting trial's values
    values = {key: from_optuna(key, value) for key, value in raw.items()}
    readings = t.intermediate_values
    reading = min(readings.values()) if readings else t.value
    folder = trial_dir(sweep_dir, t.number)
    run_dir = str(folder) if is_trial_of(folder, study, t.number) else None
    step = max(readings) if readings else 0
    if run_dir is not None and (beat := heartbeat.read(folder)) is not None:
        step = max(step, int(beat.step))
    return TrialRow(t.number, STATES.get(t.state.name, t.state.name.lower()), values,
                    None if reading is None else float(reading), step, run_dir)


def importances(sweep_dir: str | Path, storage: str | None = None, study: str | None = None) -> dict[str, float] | None:
    """How much each setting mattered to the complete trials' readings (Optuna's PED-ANOVA), summing
    to 1; None with fewer than MIN_FOR_IMPORTANCE complete trials, or when they cannot tell."""
    loaded = load_study(sweep_dir, storage, study)
    if loaded is None:
        return None
    opt = optuna()
    with storage_errors(describe_storage(storage, sweep_dir)):
        complete = loaded.get_trials(deepcopy=False, states=(opt.trial.TrialState.COMPLETE,))
        if len(complete) < MIN_FOR_IMPORTANCE:
            return None
        try:
            found = opt.importance.get_param_importances(loaded)
        except (RuntimeError, ValueError, ZeroDivisionError, FloatingPointError):
            return None  # e.g. every trial read the same
    return {key: float(value) for key, value in found.items()}


def plain(value: Any) -> Any:
    """A setting's value as JSON keeps it (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value
