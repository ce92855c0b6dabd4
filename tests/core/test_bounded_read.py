"""core/bounded_read.py: regular files only, within a cap, and every fault one line naming the file."""

from __future__ import annotations

import os
import threading
import tracemalloc

import pytest

from core import bounded_read as br

JOIN_S = 10  # a guard: a call that blocks on a FIFO would never return


def _in_thread(call):
    """call()'s exception (or None), from a thread that must finish: a FIFO opened to read blocks forever."""
    result: list = []

    def run():
        try:
            call()
            result.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            result.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(JOIN_S)
    assert not thread.is_alive(), "the read blocked"
    return result[0]


@pytest.mark.parametrize("reader", [lambda p: br.read_bytes(p, br.SMALL, "config file"),
                                    lambda p: list(br.read_lines(p))])
def test_a_fifo_is_refused_without_blocking(tmp_path, reader):
    fifo = tmp_path / "c.json"
    os.mkfifo(fifo)
    error = _in_thread(lambda: reader(fifo))
    assert isinstance(error, br.FileRefused)
    assert str(error).startswith(f"{fifo}: a FIFO (named pipe), not a regular file")


def test_a_link_to_a_device_is_refused_unread(tmp_path):
    link = tmp_path / "c.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(br.FileRefused, match=r"c\.json: a character device, not a regular file"):
        br.load_json(link, what="config file")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(br.FileRefused, match="a folder, not a regular file"):
        br.read_bytes(tmp_path, br.SMALL)


def test_a_file_over_its_cap_is_refused(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (br.SMALL + 1))
    with pytest.raises(br.FileRefused, match=r"big\.json: 1,048,577 bytes, more than a config file's 1 MiB"):
        br.load_json(big, what="config file")


def test_a_link_is_refused_where_links_are_not_followed(tmp_path):
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    with pytest.raises(br.FileRefused, match="a symbolic link"):
        br.read_bytes(tmp_path / "link.json", 100, follow_links=False)
    assert br.read_bytes(tmp_path / "link.json", 100) == b"{}"  # a person's own link is followed


def test_bytes_that_are_not_utf8_are_named(tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(b'{"run": "\xff\xfe"}')
    with pytest.raises(br.FileRefused) as caught:
        br.load_json(path, what="config file")
    assert str(caught.value) == f"{path}: not UTF-8 text (byte 0xff at position 9); save the config file as UTF-8"


@pytest.mark.parametrize("text, loader", [("[" * 200_000 + "]" * 200_000, br.load_json),
                                          ("a = " + "[" * 200_000 + "]" * 200_000, br.load_toml),
                                          ("[a]\nb = " + "[" * 70 + "]" * 70, br.load_toml)])
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path, text, loader):
    path = tmp_path / "deep"
    path.write_text(text)
    with pytest.raises(br.FileRefused) as caught:
        loader(path)
    assert str(caught.value).startswith(f"{path}: nested more than 64 levels deep")
    assert "\n" not in str(caught.value)


def test_brackets_in_strings_and_comments_are_not_nesting():
    br.check_depth('{"a": "' + "[" * 500 + '"}')
    br.check_depth("a = '" + "[" * 500 + "'  # " + "{" * 500)
    br.check_depth('b = """\n' + "[" * 500 + '\n"""')
    assert br.loads_json('[[["x"]]]') == [[["x"]]]
    with pytest.raises(br.TooDeep):
        br.check_depth("[" * 65 + "]" * 65)
    br.check_depth("[" * 64 + "]" * 64)


def test_a_5000_digit_number_is_named_in_words(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"run": {"seed": ' + "1" * 5000 + "}}")
    with pytest.raises(br.FileRefused, match=r"not valid JSON \(a number longer than 4,300 digits\)"):
        br.load_json(path)


def test_refusals_are_both_os_and_value_errors(tmp_path):
    """Readers that treat an unreadable file as missing (OSError) and those that treat it as damaged
    (ValueError) both catch it."""
    error = br.FileRefused(tmp_path, "why", "what to do")
    assert isinstance(error, OSError) and isinstance(error, ValueError)
    assert str(error) == f"{tmp_path}: why; what to do"


def test_an_over_long_line_is_skipped_in_bounded_memory(tmp_path):
    """A 16 MiB line appended to a run's CSV: the other lines come back, the long one is never held."""
    path = tmp_path / "metrics.csv"
    with open(path, "wb") as f:
        f.write(b"step,g_loss\n1,0.5\n")
        f.write(b"9" * (16 * br.MiB) + b"\n")
        f.write(b"2,0.25\n3,0.125")
    tracemalloc.start()
    try:
        lines = list(br.read_lines(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == ["step,g_loss\n", "1,0.5\n", "2,0.25\n", "3,0.125"]
    assert peak < 2 * br.MiB, f"{peak:,} bytes held"


def test_lines_keep_undecodable_bytes_as_replacement_characters(tmp_path):
    path = tmp_path / "changes.jsonl"
    path.write_bytes(b'{"step": 1}\n\xff\n')
    assert list(br.read_lines(path)) == ['{"step": 1}\n', "\ufffd\n"]


def test_an_over_long_line_can_be_refused_instead(tmp_path):
    """The journal check refuses a line no record is that long, rather than let Optuna hold it whole."""
    path = tmp_path / "journal.log"
    path.write_bytes(b'{"op": 1}\n' + b"x" * 100 + b"\n")
    with pytest.raises(br.FileRefused, match=r"journal\.log: line 2 is longer than a journal line's 64 bytes"):
        list(br.read_lines(path, 64, "journal line", skip_long=False))
