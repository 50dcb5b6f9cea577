"""Record readers (boardnet.records.read and the per-format parsers): small literal records, archives
written in tmp_path, round trips through the writers and the games' own rules. The shared data is
read only where present (and the whole collections only in `slow` tests)."""
from __future__ import annotations

import gzip
import io
import os
import random
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from boardnet.games.checkers import Checkers
from boardnet.games.go import Go
from boardnet.records import game_record
from boardnet.records.read import FORMATS, GameRecord, ReadReport, read_records

SHARED = Path(os.environ.get("GRIDNETS_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ACF_FILE = SHARED / "games" / "checkers" / "acf" / "ACF.txt"
KGS_2001 = SHARED / "games" / "go" / "kgs6d" / "KGS-2001-19-2298-.tar.gz"
needs_acf = pytest.mark.skipif(not ACF_FILE.exists(), reason=f"shared ACF data not found at {ACF_FILE}")
needs_kgs = pytest.mark.skipif(not KGS_2001.exists(), reason=f"shared KGS data not found at {KGS_2001}")


def parse(fmt: str, text: str, source: str = "t") -> tuple[list[GameRecord], ReadReport]:
    report = ReadReport()
    recs = list(FORMATS[fmt](text, source, report))
    for r in recs:
        report.add(r)
    return recs, report


def sgf_point(v: str, n: int) -> int:
    return "abcdefghijklmnopqrs".index(v[1]) * n + "abcdefghijklmnopqrs".index(v[0])


def assert_legal_line(rec: GameRecord) -> None:
    """Every action is legal in the state the record replays to before it."""
    for s, a in zip(rec.states(), rec.actions):
        assert not s.is_terminal()
        assert s.legal_mask()[a], (rec.key, s.action_to_text(a))


# -- SGF ---------------------------------------------------------------------------------------

def test_sgf_handicap_with_white_first():
    (rec,), rep = parse("sgf", "(;GM[1]FF[4]SZ[9]HA[2]KM[0.5]AB[cc][gg]PB[b]PW[w]RE[W+R]"
                               ";W[ee];B[ce];W[ec])")
    assert rec.game.name == "go9" and rec.game.komi == 0.5
    assert rec.start.to_play() == 1 and rec.start.stone_counts() == (2, 0)
    assert [rec.game.action_to_text(a) for a in rec.actions] == ["E5", "C5", "E7"]
    assert rec.result == (-1.0, 1.0) and rec.result_text == "W+R" and rec.stopped is None
    assert rec.meta["HA"] == "2" and rec.meta["PB"] == "b"
    assert_legal_line(rec)
    assert rep.games == 1 and rep.positions == 3 and rep.truncated == 0


def test_sgf_handicap_without_moves_has_white_to_play():
    (rec,), _ = parse("sgf", "(;SZ[19]HA[4]AB[dd][pd][dp][pp]RE[W+Resign])")
    assert rec.actions == [] and rec.start.to_play() == 1 and rec.result_text == "W+R"


def test_sgf_setup_stones_with_compressed_ranges():
    (rec,), _ = parse("sgf", "(;SZ[9]AB[aa:cc]AW[ee][ff:fg]AE[bb]PL[B];B[ia])")
    board = rec.start.board()
    assert (board == 1).sum() == 8 and board[1, 1] == 0          # 3x3 block less the AE point
    assert (board == 2).sum() == 3 and board[5, 5] == 2 and board[6, 5] == 2
    assert rec.actions == [sgf_point("ia", 9)]


def test_sgf_passes_as_empty_and_tt():
    (rec,), _ = parse("sgf", "(;SZ[19];B[];W[pd];B[tt];W[dp])")
    g = rec.game
    assert rec.actions == [g.pass_action, sgf_point("pd", 19), g.pass_action, sgf_point("dp", 19)]
    assert rec.stopped is None


@pytest.mark.parametrize("re_text,result,norm", [
    ("B+R", (1.0, -1.0), "B+R"), ("B+Resign", (1.0, -1.0), "B+R"), ("W+3.5", (-1.0, 1.0), "W+3.5"),
    ("B+T", (1.0, -1.0), "B+T"), ("W+Time", (-1.0, 1.0), "W+T"), ("0", (0.0, 0.0), "0"),
    ("Draw", (0.0, 0.0), "0"), ("Void", None, "?"), ("?", None, "?"), (None, None, "?")])
def test_sgf_result_forms(re_text, result, norm):
    prop = "" if re_text is None else f"RE[{re_text}]"
    (rec,), rep = parse("sgf", f"(;SZ[9]{prop};B[ee])")
    assert rec.result == result and rec.result_text == norm
    assert rep.results[norm] == 1


def test_sgf_comment_with_escaped_bracket():
    (rec,), _ = parse("sgf", r"(;SZ[9]C[a \] bracket; B[aa\] (is not a move)];B[ee]C[x\\];W[ff])")
    assert rec.actions == [sgf_point("ee", 9), sgf_point("ff", 9)]


def test_sgf_variations_keep_the_main_line():
    (rec,), _ = parse("sgf", "(;SZ[9];B[ee](;W[ff];B[gg](;W[hh])(;W[aa]))(;W[cc];B[dd]))")
    assert rec.actions == [sgf_point(p, 9) for p in ("ee", "ff", "gg", "hh")]


def test_sgf_collection_with_two_games():
    recs, rep = parse("sgf", "(;SZ[9];B[ee];W[ff])\n(;SZ[13]RE[B+R];B[gg])\n")
    assert [r.index for r in recs] == [0, 1] and [r.game.name for r in recs] == ["go9", "go13"]
    assert rep.sizes == {"go9": 1, "go13": 1}


def test_sgf_broken_tree_in_a_collection_is_counted_and_the_next_one_read():
    # the first tree lacks its ')': the parser takes the second as its variation, fails at the end
    # of the text, and starts again at the next tree
    recs, rep = parse("sgf", "(;SZ[9];B[ee]\n(;SZ[9];B[ff])\n(;SZ[9];B[ee]%)\n(;SZ[9];W[aa])")
    assert [r.actions for r in recs] == [[sgf_point("ff", 9)], [sgf_point("aa", 9)]]
    assert [r.index for r in recs] == [1, 3]
    assert rep.skipped == {"unparsable": 2}
    assert [e[1] for e in rep.errors] == [0, 2] and "unexpected character" in rep.errors[1][2]


@pytest.mark.parametrize("sgf,n_ok,why", [
    ("(;SZ[9];B[ee];W[ee];B[ff])", 1, "move 2"),                       # occupied point
    ("(;SZ[9]AB[ba][ab];W[aa];B[ee])", 0, "move 1"),                   # suicide
    ("(;SZ[9];B[ee];B[ff])", 1, "out of turn"),                         # our rules alternate
    ("(;SZ[9];B[ee];W[zz])", 1, "bad move"),                            # off the board
])
def test_sgf_illegal_move_stops_the_game_with_a_counted_reason(sgf, n_ok, why):
    (rec,), rep = parse("sgf", sgf)
    assert len(rec.actions) == n_ok and why in rec.stopped
    assert rep.truncated == 1 and rep.errors[0][1] == 0 and why in rep.errors[0][2]
    assert_legal_line(rec)


def test_sgf_unsupported_size_is_skipped():
    recs, rep = parse("sgf", "(;SZ[25];B[yy])(;GM[3];B[aa])(;SZ[9];B[ee])")
    assert len(recs) == 1
    assert rep.skipped == {"unsupported board size": 1, "not Go": 1}


def test_sgf_game_cache_stays_small_over_many_komis():
    from boardnet.records import sgf

    text = "".join(f"(;SZ[9]KM[{k}.5];B[ee])" for k in range(30))
    recs, _ = parse("sgf", text)
    assert [r.game.komi for r in recs] == [k + 0.5 for k in range(30)]
    assert len(sgf._GAMES) <= sgf._GAMES_KEPT
    assert sgf.go_game(9, 29.5) is recs[-1].game       # the recent ones are kept


def test_sgf_round_trip_through_the_writer_and_the_rules():
    rng = random.Random(3)
    game = Go(5, komi=0.5)
    for _ in range(5):
        s, actions = game.initial_state(), []
        while not s.is_terminal():
            a = rng.choice([int(x) for x in s.legal_actions()])
            actions.append(a)
            s = s.apply(a)
        (rec,), rep = parse("sgf", game_record(game, actions))
        assert rec.actions == actions and rec.stopped is None
        assert_legal_line(rec)
        final = rec.start
        for a in rec.actions:
            final = final.apply(a)
        # a scored (not resigned) record: the final position's score has the sign of RE
        assert rec.result_text[0] == ("B" if final.score() > 0 else "W")
        assert np.sign(rec.result[0]) == np.sign(final.score()) == final.returns()[0]


# -- files, folders, archives ------------------------------------------------------------------

GOOD = ["(;SZ[9];B[ee];W[ff])", "(;SZ[9]RE[B+R];B[cc])", "(;SZ[19];B[pd];W[dp];B[pp])"]


def _tar(path: Path, files: dict[str, str | bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))


def test_read_tar_gz(tmp_path):
    _tar(tmp_path / "kgs.tar.gz", {f"kgs/{i}.sgf": t for i, t in enumerate(GOOD)} | {"kgs/notes.md": "x"})
    rep = ReadReport()
    recs = list(read_records(tmp_path / "kgs.tar.gz", report=rep))
    assert [len(r.actions) for r in recs] == [2, 1, 3] and rep.files == 3
    assert recs[0].source.endswith("kgs.tar.gz:kgs/0.sgf") and rep.skipped_total == 0


def test_read_zip_gz_and_folder_tree(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("games/0.sgf", GOOD[0])
        zf.writestr("games/1.sgf", GOOD[1])
    (tmp_path / "tree" / "deep").mkdir(parents=True)
    (tmp_path / "tree" / "x.sgf").write_text(GOOD[2])
    with gzip.open(tmp_path / "tree" / "deep" / "y.sgf.gz", "wt") as fh:
        fh.write(GOOD[0])
    (tmp_path / "tree" / "deep" / "notes.md").write_text("not a record")
    rep = ReadReport()
    recs = list(read_records([tmp_path / "a.zip", tmp_path / "tree"], report=rep))
    assert [len(r.actions) for r in recs] == [2, 1, 3, 2]       # zip, then the tree top-down
    assert rep.files == 4 and rep.games == 4 and rep.skipped_total == 0


def test_broken_file_among_good_ones_is_counted_and_reading_goes_on(tmp_path):
    (tmp_path / "a.sgf").write_text(GOOD[0])
    (tmp_path / "b.sgf").write_text("(;SZ[9];B[ee];W[ff]")          # unterminated
    (tmp_path / "c.sgf").write_text(GOOD[1])
    with open(tmp_path / "d.sgf.gz", "wb") as fh:                    # a .gz cut short
        fh.write(gzip.compress(GOOD[2].encode() * 50)[:30])
    rep = ReadReport()
    recs = list(read_records(tmp_path, report=rep))
    assert [r.source.rsplit("/", 1)[1] for r in recs] == ["a.sgf", "c.sgf"]
    assert rep.skipped == {"unparsable": 1, "unreadable file": 1}
    assert {e[0].rsplit("/", 1)[1] for e in rep.errors} == {"b.sgf", "d.sgf.gz"}


def test_truncated_tar_gz_is_counted_not_raised(tmp_path):
    rng = random.Random(0)
    files = {}
    for i in range(40):   # incompressible comments, so the cut falls part-way through the members
        junk = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3000))
        files[f"g/{i:02d}.sgf"] = f"(;SZ[9]C[{junk}];B[ee];W[ff])"
    _tar(tmp_path / "full.tar.gz", files)
    data = (tmp_path / "full.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    rep = ReadReport()
    recs = list(read_records(tmp_path / "cut.tar.gz", report=rep))
    assert 5 < len(recs) < 40 and all(r.actions == recs[0].actions for r in recs)
    assert rep.skipped == {"broken archive": 1}
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive at all")
    rep = ReadReport()
    assert list(read_records(tmp_path / "junk.tar.gz", report=rep)) == []
    assert rep.skipped_total == 1
    # small, compressible games: tarfile's own stream reader took many such cuts for a complete, shorter archive
    _tar(tmp_path / "small.tar.gz", {f"g/{i:03d}.sgf": "(;SZ[9];B[ee];W[ff])" for i in range(200)})
    data = (tmp_path / "small.tar.gz").read_bytes()
    for frac in (0.3, 0.5, 0.77, 0.9, 0.99):
        (tmp_path / "cut.tar.gz").write_bytes(data[: int(len(data) * frac)])
        rep = ReadReport()
        recs = list(read_records(tmp_path / "cut.tar.gz", report=rep))
        assert len(recs) <= 200 and rep.skipped == {"broken archive": 1}, (frac, len(recs), rep.skipped)
    rep = ReadReport()
    assert len(list(read_records(tmp_path / "small.tar.gz", report=rep))) == 200 and rep.skipped_total == 0


def test_an_empty_record_file_is_counted(tmp_path):
    for name in ("e.sgf", "e.pgn"):
        (tmp_path / name).write_text("  \n")
    rep = ReadReport()
    assert list(read_records(tmp_path, report=rep)) == [] and rep.skipped == {"empty file": 2}


def test_missing_input_is_counted():
    rep = ReadReport()
    assert list(read_records(["/no/such/records.sgf"], report=rep)) == []
    assert rep.skipped == {"missing input": 1}


# -- PGN ---------------------------------------------------------------------------------------

PGN = """[Event "FEN start"]
[White "Alice"]
[Black "Bob"]
[WhiteElo "2100"]
[Result "0-1"]
[SetUp "1"]
[FEN "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"]

1... e5 { [%eval 0.35] } 2. Nf3 {+0.40/12 0.2s} (2. Qh5 Nc6 3. Bc4 Nf6 4. Qxf7#) 2... Nc6
{ [%eval #-3] } 3. Bb5 {-0.50/10} a6 $1 0-1

[Event "illegal"]
[Result "1/2-1/2"]

1. e4 e5 2. Ke3 Nf6 1/2-1/2

[Event "empty"]
[Result "*"]

*

[Event "bad fen"]
[FEN "8/8/8/8/8/8/8/8 w - - 0 1"]

1. e4 1-0
"""


def test_pgn_fen_start_variations_and_evals():
    recs, rep = parse("pgn", PGN, "t.pgn")
    first, illegal = recs
    assert first.start.to_play() == 1 and first.start.to_text().startswith("rnbqkbnr/pppppppp/8/8/4P3")
    assert [first.start.action_to_text(first.actions[0])] == ["e7e5"] and len(first.actions) == 5
    assert first.result == (-1.0, 1.0) and first.result_text == "0-1"      # player 0 = White
    assert first.meta == {"White": "Alice", "Black": "Bob", "WhiteElo": "2100", "Event": "FEN start"}
    # from White's view: cutechess scores are the mover's, so Black's... and White's keep their sign
    assert first.labels == [{"eval_cp": 35}, {"eval_cp": 40}, {"mate": -3}, {"eval_cp": -50}, {}]
    assert first.stopped is None
    assert_legal_line(first)
    assert len(illegal.actions) == 2 and "PGN error" in illegal.stopped and illegal.result == (0.0, 0.0)
    assert rep.truncated == 1 and rep.games == 2
    assert rep.skipped == {"no moves and no result": 1, "bad start position": 1}
    assert [e[1] for e in rep.errors] == [1, 2, 3]


def test_pgn_cutechess_eval_after_blacks_move_is_turned_to_whites_view():
    (rec,), _ = parse("pgn", '[Result "*"]\n\n1. e4 {+0.20/8} e5 {+0.30/8} 2. Nf3 {-M4/20} *\n')
    assert rec.labels == [{"eval_cp": 20}, {"eval_cp": -30}, {"mate": -4}]
    assert rec.result is None and rec.result_text == "*"


def test_pgn_play_on_after_threefold_and_variants():
    text = ('[Result "*"]\n\n1. Nf3 Nf6 2. Ng1 Ng8 3. Nf3 Nf6 4. Ng1 Ng8 5. e4 *\n\n'
            '[Variant "Atomic"]\n[Result "1-0"]\n\n1. e4 1-0\n')
    (rec,), rep = parse("pgn", text)
    # the project's rules draw at the third occurrence; the record plays on, so it is cut there
    assert len(rec.actions) == 8 and "threefold" in rec.stopped
    assert rep.cut == {"move after the game ended": 1} and rep.skipped == {"unsupported variant": 1}


def test_pgn_round_trip_through_the_writer():
    from boardnet.games.chess import Chess

    rng = random.Random(1)
    game = Chess()
    s, actions = game.initial_state(), []
    for _ in range(60):
        if s.is_terminal():
            break
        a = rng.choice([int(x) for x in s.legal_actions()])
        actions.append(a)
        s = s.apply(a)
    (rec,), _ = parse("pgn", game_record(game, actions, result=(0, 0), players=("A", "B")))
    assert rec.actions == actions and rec.result == (0.0, 0.0) and rec.meta["White"] == "A"


# -- draughts: ACF lines and PDN -------------------------------------------------------------------

# the first moves of the first two games of the shared ACF.txt (indices as in its REF.png)
ACF_LINES = ("10-13 21-17 5-10 22-18 13-22 27-18 9-13 18-9 4-13 23-19 11-14 19-15\t1/2-1/2\n"
             "10-13 21-17 5-10 22-19 9-12 26-21 4-9 19-14 11-18 21-14-5 1-10\t0-1\n")


def test_acf_lines_replay_with_the_collections_numbering():
    (a, b), rep = parse("acf", ACF_LINES)
    assert a.stopped is None and len(a.actions) == 12 and a.result == (0.0, 0.0)
    # ACF 10-13 is 10-15 in the standard numbering (the diagram turned 180 degrees)
    assert a.start.action_to_text(a.actions[0]) == "10-15"
    assert b.stopped is None and len(b.actions) == 12                # 21-14-5: one move, two jumps
    assert b.result == (-1.0, 1.0) and b.result_text == "0-1"
    assert_legal_line(a)
    assert_legal_line(b)
    assert rep.truncated == 0 and rep.skipped_total == 0


def test_acf_start_positions_and_bad_lines(tmp_path):
    (tmp_path / "starting_position_lookup.txt").write_text(
        "# comment\nGAYP\trPPPPPPPPPPPP44pppppppppppp\nBoston\trPPPPPPPPP1P11PpP4pp1ppppppppp\n")
    text = ("rPPPPPPPPPPPP44pppppppppppp 10-13\t*\n"
            "GAYP\t10-13 21-17\t1-0\n"
            "Nowhere\t10-13\t1-0\n"
            "10-13 21-17 10-15\t1-0\n"
            "10-13 21-17 no-move\t1/2-1/2\n"
            "10-13 21-17\n")
    (tmp_path / "games.txt").write_text(text)
    rep = ReadReport()
    recs = list(read_records(tmp_path / "games.txt", report=rep))
    init = Checkers().initial_state().to_text()
    assert [r.start.to_text() for r in recs[:2]] == [init, init]
    assert recs[1].meta == {"opening": "GAYP"} and recs[1].result == (1.0, -1.0)
    assert [len(r.actions) for r in recs] == [1, 2, 2, 2]
    assert "illegal move: move 3" in recs[2].stopped and "unreadable move text" in recs[3].stopped
    assert rep.skipped == {"unknown start": 1, "no result": 1} and rep.truncated == 2


def test_acf_reader_skips_a_non_game_txt_once(tmp_path):
    (tmp_path / "README.txt").write_text("Some notes\nabout these games\n")
    rep = ReadReport()
    assert list(read_records(tmp_path, report=rep)) == []
    assert rep.skipped == {"not a record file": 1}


@needs_acf
def test_first_shared_acf_game_replays_to_its_result():
    line = ACF_FILE.read_text().splitlines()[0]
    (rec,), rep = parse("acf", line + "\n", str(ACF_FILE))
    assert rec.stopped is None and rec.result_text == "1/2-1/2" and rec.result == (0.0, 0.0)
    assert len(rec.actions) >= len(line.split("\t")[0].split())
    assert_legal_line(rec)


@pytest.mark.slow
@needs_acf
def test_whole_shared_acf_collection_replays():
    rep = ReadReport()
    full = sum(r.stopped is None for r in read_records(ACF_FILE, report=rep))
    assert rep.games == 9377 and rep.skipped_total == 0
    assert rep.results == {"1/2-1/2": 5407, "0-1": 2373, "1-0": 1597}
    # 8 games play on after a threefold repetition, which the project's rules draw at once
    assert full == 9369 and rep.cut == {"move after the game ended": 8}


def _random_checkers_game(seed: int, start=None) -> tuple[Checkers, list[int], bool]:
    game = Checkers()
    rng = random.Random(seed)
    s = start or game.initial_state()
    actions, multi = [], False
    while not s.is_terminal() and len(actions) < 400:
        a = rng.choice([int(x) for x in s.legal_actions()])
        actions.append(a)
        s = s.apply(a)
        multi |= s.mid_capture
    return game, actions, multi


def test_pdn_round_trip_through_the_writer():
    seen_multi = False
    for seed in range(6):
        game, actions, multi = _random_checkers_game(seed)
        seen_multi |= multi
        text = game_record(game, actions, players=("Black", "White"))
        (rec,), rep = parse("pdn", text)
        assert rec.actions == actions and rec.stopped is None
        final = rec.start
        for a in rec.actions:
            final = final.apply(a)
        assert rec.result == tuple(float(x) for x in final.returns())
        assert rec.meta["Black"] == "Black"
        assert_legal_line(rec)
    assert seen_multi   # a multi-jump `22x15x8` became several actions and back


def test_pdn_with_fen_white_to_move_and_annotations():
    game = Checkers()
    start = game.state_from_text("W:W21-32:B1-12")
    _, actions, _ = _random_checkers_game(7, start)
    text = game_record(game, actions[:20], result=(0, 0), start=start)
    assert '[FEN "W:' in text and "1... " in text
    (rec,), _ = parse("pdn", text)
    assert rec.start.to_text() == start.to_text() and rec.actions == actions[:20]
    assert rec.result == (0.0, 0.0) and rec.result_text == "1/2-1/2"
    literal = ('[Event "x"]\n[Result "2-0"]\n1. 11-15 {a comment} 23-19 $2 (2... 22-18) 2. 8-11! '
               '22-17; rest of line\n 3. 9-13 17-14?! 4. 10x17 21x14 2-0\n'
               '[Event "y"]\n[GameType "20"]\n1. 32-28 *\n'
               '[Event "z"]\n1. 11-15 24-19 2. 15x24 22-18 *\n')
    recs, rep = parse("pdn", literal)
    assert len(recs) == 2 and recs[0].result == (1.0, -1.0) and len(recs[0].actions) == 8
    assert "illegal move: move 4 (22-18)" in recs[1].stopped and len(recs[1].actions) == 3
    assert rep.skipped == {"unsupported game type": 1} and rep.truncated == 1


# -- the command ---------------------------------------------------------------------------------

def test_records_stats_command(tmp_path, capsys):
    from boardnet.cli import main

    for i, t in enumerate(GOOD):
        (tmp_path / f"{i}.sgf").write_text(t)
    (tmp_path / "bad.sgf").write_text("(;SZ[9];B[ee]")
    assert main(["records", "stats", str(tmp_path), "--json", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "games: 3" in out and "positions: 6" in out and "skipped: 1 (unparsable: 1)" in out
    assert "bad.sgf game 0: unparsable SGF" in out and "go19 1, go9 2" in out
    import json
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["figures"]["games"] == 3 and doc["benchmark"] == "records_stats" and "command" in doc
    assert main(["records", "stats", str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("boardnet records: no such file or folder")


@pytest.mark.slow
@needs_kgs
def test_shared_kgs_archive_sample_reads_and_replays():
    rep = ReadReport()
    n = 0
    for rec in read_records(KGS_2001, report=rep):
        assert_legal_line(rec)
        n += 1
        if n == 300:
            break
    assert rep.skipped_total == 0 and rep.truncated == 0 and rep.positions > 300 * 100
