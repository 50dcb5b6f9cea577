"""`selfplay teach`: teacher games from GNU Go (GTP) and Stockfish (UCI) written as SGF/PGN with
labels that `boardnet.records` reads back; resuming neither repeats nor loses games. The engine
tests are marked `external` and skip with the reason when the program is missing (.ci/run installs
both); the label formats and the missing-engine error are checked without engines."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from boardnet.players import find_program
from boardnet.records import sgf
from boardnet.records.base import ReadReport
from boardnet.records.read import read_records
from selfplay.cli import main
from selfplay.teach import SUMMARY_FILE, multipv_policy, wdl_target

GNUGO = "gnugo --mode gtp --level 1 --chinese-rules --never-resign"
external = pytest.mark.external


def need(program: str) -> None:
    if find_program(program) is None:
        pytest.skip(f"{program} is not installed (looked in PATH and /usr/games; "
                    f"`apt-get install -y {program}`)")


def teach_go(out, games: int, *extra: str) -> int:
    return main(["teach", "go", "--engine", GNUGO, "--size", "7", "--komi", "7", "--games", str(games),
                 "--max-plies", "40", "--out", str(out), "--quiet", *extra])


def read_all(path) -> tuple[list, ReadReport]:
    rep = ReadReport()
    recs = list(read_records(path, report=rep))
    return recs, rep


# -- label formats, no engine ---------------------------------------------------------------------

def test_sgf_territory_marks_read_into_ownership(tmp_path):
    # 5x5: Black wall on column c, White on column d; a dead white stone at a1 (sgf 'ae') in
    # Black's area; TB covers Black's empty points and the dead stone, TW White's column e.
    text = ("(;FF[4]GM[1]SZ[5]KM[0.5]RE[B+4.5]AB[ca][cb][cc][cd][ce]AW[da][db][dc][dd][de]PL[W]"
            ";W[ae];B[];W[]TB[aa][ba][ab][bb][ac][bc][ad][bd][ae][be]TW[ea][eb][ec][ed][ee])")
    (tmp_path / "t.sgf").write_text(text)
    (rec,), rep = read_all(tmp_path)
    assert rep.truncated == 0 and rec.meta["TB"].split()[0] == "aa" and len(rec.meta["TW"].split()) == 5
    own = sgf.ownership(rec)
    assert own.shape == (5, 5) and own.dtype == np.int8
    assert (own[:, :3] == 1).all() and (own[:, 3:] == -1).all()
    assert sgf.dead_stones(rec) == [4 * 5 + 0]          # the white stone at a1 (row 4, column 0)
    assert sgf.score(rec) == 4.5
    assert own.sum() - rec.game.komi == sgf.score(rec)  # area count of the ownership = RE


def test_sgf_without_marks_has_no_ownership(tmp_path):
    (tmp_path / "t.sgf").write_text("(;FF[4]SZ[9]RE[W+R];B[ee];W[cc])")
    (rec,), _ = read_all(tmp_path)
    assert "TB" not in rec.meta and sgf.ownership(rec) is None and sgf.score(rec) is None


def test_pgn_teacher_comments(tmp_path):
    text = ('[Event "t"]\n[Result "*"]\n\n1. e4 { [%wdl 60 900 40] [%mpv e2e4 0.30 d2d4 0.25 g1f3 #4] '
            '[%eval 0.30] } 1... e5 { [%eval -0.10] [%wdl 10 950 40] } 2. Nf3 *\n')
    (tmp_path / "g.pgn").write_text(text)
    (rec,), _ = read_all(tmp_path)
    first, second, third = rec.labels
    assert first == {"eval_cp": 30, "wdl": (60, 900, 40),
                     "multipv": [{"move": "e2e4", "eval_cp": 30}, {"move": "d2d4", "eval_cp": 25},
                                 {"move": "g1f3", "mate": 4}]}
    assert second == {"eval_cp": -10, "wdl": (10, 950, 40)} and third == {}
    assert wdl_target(first) == pytest.approx((0.06, 0.9, 0.04))
    w, d, l = wdl_target({"eval_cp": 0})
    assert (w, d, l) == pytest.approx((0.5, 0.0, 0.5))
    assert wdl_target({"mate": -2}) == (0.0, 0.0, 1.0)
    pol = multipv_policy(next(rec.states()), first)
    assert sum(pol.values()) == pytest.approx(1.0) and len(pol) == 3
    best = max(pol, key=pol.get)
    assert next(rec.states()).action_to_text(best) in ("g1f3", "Nf3")   # mate in 4 beats +0.30


def test_missing_engine_is_one_line(tmp_path, capsys):
    for argv in (["go", "--engine", "no-such-gtp-engine --mode gtp"],
                 ["chess", "--engine", "no-such-uci-engine", "--nodes", "10"]):
        rc = main(["teach", *argv, "--games", "1", "--out", str(tmp_path / argv[0]), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1
        assert "not found in PATH or /usr/games" in err and "no-such" in err
        assert not (tmp_path / argv[0]).exists()


def test_checkers_needs_no_engine(capsys):
    assert main(["teach", "checkers"]) == 0
    assert "checkers/acf" in capsys.readouterr().out


# -- engines ----------------------------------------------------------------------------------------

@external
def test_go_teacher_writes_score_and_ownership(tmp_path):
    need("gnugo")
    assert teach_go(tmp_path, 2) == 0
    recs, rep = read_all(tmp_path)
    assert len(recs) == 2 and rep.skipped_total == 0 and rep.truncated == 0
    for rec in recs:
        assert rec.game.name == "go7" and rec.result is not None and len(rec.actions) > 0
        assert sum(rec.start.stone_counts()) >= 3           # 4 random plies as setup stones
        assert rec.start.ply == 0 and rec.meta["RU"] == "Chinese"
        own = sgf.ownership(rec)
        assert own is not None and own.shape == (7, 7) and set(np.unique(own)) <= {-1, 0, 1}
        sc = sgf.score(rec)
        assert sc is not None and (sc > 0) == (rec.result[0] > 0)
        pas = rec.game.pass_action
        if rec.actions[-2:] == [pas, pas]:                  # finished: area count agrees with RE
            assert own.sum() - rec.game.komi == pytest.approx(sc)
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    run = summary["this_run"]
    assert run["games"] == 2 and run["positions"] == sum(len(r.actions) for r in recs)
    assert run["positions_per_cpu_s"] > 0 and summary["engine"].startswith("GNU Go")


@external
def test_go_teacher_resumes_without_repeating_or_losing(tmp_path, capsys):
    need("gnugo")
    assert teach_go(tmp_path, 2) == 0
    first = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(tmp_path.glob("go-*.sgf"))}
    assert [p.name for p in first] == ["go-000000.sgf", "go-000001.sgf"]
    # a kill in the middle of writing game 2 leaves its tmp file behind
    (tmp_path / "go-000002.sgf.tmp-424242").write_text("(;FF[4]SZ[7];B[")
    assert teach_go(tmp_path, 4, "--workers", "2") == 0
    for p, (data, mtime) in first.items():
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime     # not replayed
    files = sorted(tmp_path.glob("go-*"))
    assert [p.name for p in files] == [f"go-{i:06d}.sgf" for i in range(4)]   # tmp gone, none lost
    recs, rep = read_all(tmp_path)
    assert len(recs) == 4 and rep.skipped_total == 0
    assert len({tuple(r.start.board().ravel()) + tuple(r.actions) for r in recs}) == 4   # distinct games
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["this_run"]["games"] == 2 and summary["games_in_folder"] == 4
    assert teach_go(tmp_path, 4) == 0                                         # nothing left to do
    assert json.loads((tmp_path / SUMMARY_FILE).read_text())["this_run"]["games"] == 0
    capsys.readouterr()
    assert main(["teach", "go", "--engine", GNUGO, "--size", "9", "--games", "4", "--max-plies", "40",
                 "--out", str(tmp_path), "--quiet"]) == 2                     # other settings: refused
    assert "other settings" in capsys.readouterr().err


@external
def test_go_bad_engine_command_is_one_line(tmp_path, capsys):
    need("gnugo")
    rc = main(["teach", "go", "--engine", "gnugo --mode no-such-mode", "--games", "1",
               "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "did not start a GTP engine" in err


@external
def test_chess_teacher_writes_evals(tmp_path):
    need("stockfish")
    rc = main(["teach", "chess", "--engine", "stockfish", "--nodes", "200", "--multipv", "2",
               "--games", "2", "--max-plies", "12", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    recs, rep = read_all(tmp_path)
    assert len(recs) == 2 and rep.truncated == 0
    assert recs[0].start.to_text() != recs[1].start.to_text()                # varied openings
    for rec in recs:
        assert len(rec.actions) == len(rec.labels) == 12 and rec.result_text == "*"
        for st, a, lab in zip(rec.states(), rec.actions, rec.labels):
            assert ("eval_cp" in lab) != ("mate" in lab)
            assert len(lab["wdl"]) == 3 and sum(lab["wdl"]) == 1000
            assert 1 <= len(lab["multipv"]) <= 2
            assert multipv_policy(st, lab) is not None
            # the move played is the teacher's best, and its %eval is the best line's score
            best = lab["multipv"][0]
            assert st.action_to_move(a).uci() == best["move"]
            assert best.get("eval_cp", best.get("mate")) == lab.get("eval_cp", lab.get("mate"))
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["this_run"]["positions"] == 24 and summary["this_run"]["positions_per_cpu_s"] > 0


@external
def test_chess_bad_engine_command_is_one_line(tmp_path, capsys):
    need("stockfish")
    rc = main(["teach", "chess", "--engine", "stockfish bench-not-uci", "--depth", "2", "--games", "1",
               "--out", str(tmp_path / "x"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "did not start a UCI engine" in err


@external
def test_interrupted_teacher_run_keeps_and_summarises_its_games(tmp_path, capsys, monkeypatch):
    """Ctrl-C (or SIGTERM, which the CLI turns into Ctrl-C) after two games: both are kept, the summary
    counts them and says the run was interrupted, and a rerun plays only the rest."""
    need("gnugo")
    import selfplay.teach as teach_mod

    real, calls = teach_mod._play_one, []

    def play_then_interrupt(job):
        calls.append(job[2])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(teach_mod, "_play_one", play_then_interrupt)
    assert teach_go(tmp_path, 4, "--workers", "1") == 130
    assert "interrupted; finished games are kept" in capsys.readouterr().err
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert summary["interrupted"] is True and summary["this_run"]["games"] == 2
    assert summary["games_in_folder"] == 2 and summary["this_run"]["positions"] > 0
    monkeypatch.setattr(teach_mod, "_play_one", real)
    assert teach_go(tmp_path, 4) == 0
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert "interrupted" not in summary and summary["this_run"]["games"] == 2 and summary["games_in_folder"] == 4
