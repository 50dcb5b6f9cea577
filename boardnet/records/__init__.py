"""Game records: writers (PGN, SGF, PDN, move lines; `write.py`) and streaming readers of record
collections (`read.py` for files, folders and archives; `sgf.py`, `pgn.py`, `draughts.py` per format).

Readers never raise on a bad record: each is counted in a `ReadReport` with its file, game index and
reason, and reading goes on with the next one.
"""
from boardnet.records.write import (RESULT_TEXT, chess_board, chess_move, game_record, go_result_text,
                                    result_text)

__all__ = ["RESULT_TEXT", "chess_board", "chess_move", "game_record", "go_result_text", "result_text"]
