"""The scenario note is changed by compare-and-swap (chaos.journal.change_note): two commands at once,
in two processes, never undo each other's change, and a note deleted meanwhile is not brought back."""

from __future__ import annotations

import json
import multiprocessing
import threading

from chaoslab.chaos.journal import FileStore, change_note

KEY = "scenario.json"


def _count(directory, times: int) -> None:
    store = FileStore(directory)
    for _ in range(times):  # many tries: the property is that none is lost, not how soon each lands
        change_note(store, KEY, lambda note: note.update(hints_shown=note["hints_shown"] + 1), attempts=500)


def test_changes_from_four_processes_at_once_all_count(tmp_path):
    """A read-modify-write without the swap loses most of them (each process writes back what it read)."""
    FileStore(tmp_path).write(KEY, json.dumps({"id": "deadlock", "hints_shown": 0}))
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_count, args=(tmp_path, 50)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert json.loads(FileStore(tmp_path).read(KEY))["hints_shown"] == 200


def test_a_note_deleted_meanwhile_is_not_brought_back(tmp_path):
    store = FileStore(tmp_path)
    store.write(KEY, json.dumps({"id": "deadlock", "expires_at": 100}))

    def later_while_someone_stops(note: dict) -> None:
        store.delete(KEY)  # a stop lands between this command's read and its write
        note["expires_at"] += 60

    assert change_note(store, KEY, later_while_someone_stops) is None
    assert store.read(KEY) == ""


def test_swap_replaces_only_what_it_expected(tmp_path):
    store = FileStore(tmp_path)
    assert store.swap(KEY, "", "first") and store.read(KEY) == "first"  # "": none yet
    assert not store.swap(KEY, "", "second") and store.read(KEY) == "first"
    assert store.swap(KEY, "first", None) and store.read(KEY) == ""
    assert (tmp_path / KEY).exists() is False


def test_writers_of_one_key_at_once_never_fail_and_leave_one_whole_text(tmp_path):
    """Before, every writer wrote the same temporary file: one's rename took the other's file away."""
    store = FileStore(tmp_path)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(100):
                store.write(KEY, json.dumps({"writer": n, "i": i}))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert json.loads(store.read(KEY))["i"] == 99
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [KEY]
