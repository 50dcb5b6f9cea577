"""Bad molecules never rank in `atomgrid score` (issue 17): every bad input class gets a clear one-line
reason in its own row and no score; output files are UTF-8 text; failed starts leave nothing behind.

The fixtures are the small fabp4 pocket of tests/data/atomgrid_score and libraries written here
(tests/garbage_library.py); the model is a freshly initialised tiny net, as in test_atomgrid_score.
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
import torch

from atomgrid import nets
from atomgrid.library import Record, iter_records
from atomgrid.poses import PrepError, PrepOptions, choose_molecule, parse_record, standardize
from atomgrid.score import OUTPUT_COLUMNS, ScoreError, ScoreOptions, parts_dir, score_library
from garbage_library import GARBAGE, write_garbage_library

DATA = Path(__file__).parent / "data" / "atomgrid_score"
REC = DATA / "pocket.pdb"
REF = DATA / "crystal_ligand.sdf"
QUICK = dict(n_confs=1, keep=1, relax_steps=2, ff_iters=0)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    torch.manual_seed(0)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0}, "typing": scheme_dict(),
            "ligand_only": False, "name": "test-tiny"}
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    export_model(nets.build(cfg), meta, path)
    return path


def rows_of(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert b"\x00" not in raw
    text = raw.decode("utf-8")  # strict: every byte written is UTF-8 text
    assert all(c >= " " or c == "\n" for c in text), "control characters in the output"
    return list(csv.DictReader(text.splitlines()))


def prep_error(smiles: str, opts: PrepOptions = PrepOptions()) -> str:
    with pytest.raises(PrepError) as ei:
        standardize(parse_record(Record(0, "x", "smiles", smiles)), opts)
    msg = str(ei.value)
    assert "\n" not in msg and len(msg) < 200
    return msg


# ----------------------------------------------------------------------------- the target

def check_garbage_run(tmp_path: Path, model_path: Path, n: int, n_garbage: int) -> None:
    lib = tmp_path / "garbage.smi"
    kinds = write_garbage_library(lib, n, n_garbage, seed=1)
    assert set(GARBAGE) <= set(kinds) or n_garbage < len(GARBAGE)
    out = tmp_path / "garbage.csv"
    s = score_library(REC, lib, out, autobox_ligand=REF, model=model_path, out_sdf=tmp_path / "g.sdf",
                      options=ScoreOptions(chunk_size=16, **QUICK), progress=False)
    rows = rows_of(out)
    assert list(rows[0]) == list(OUTPUT_COLUMNS)
    assert [int(r["index"]) for r in rows] == list(range(n)) and s["records"] == n
    for kind, r in zip(kinds, rows):
        if kind in ("good", "salt"):
            assert r["score"] and not r["error"], (kind, r)
        else:
            assert r["error"] and r["score"] == "" and r["pK"] == "" and r["n_poses"] == "0", (kind, r)
            assert "Error" not in r["error"] and "Exception" not in r["error"], r["error"]
    assert s["errors"] == n_garbage
    for kind, r in zip(kinds, rows):
        if kind == "salt":
            assert r["prep_note"].startswith("stripped ") and "." not in r["smiles"], r
    scored_sdf = (tmp_path / "g.sdf").read_bytes().decode("utf-8")
    assert scored_sdf.count("$$$$") == n - n_garbage


def test_garbage_library_every_bad_record_has_an_error_row_and_no_score(tmp_path, model_path):
    check_garbage_run(tmp_path, model_path, 40, 8)


@pytest.mark.slow
def test_thousand_records_with_five_percent_garbage(tmp_path, model_path):
    check_garbage_run(tmp_path, model_path, 1000, 50)


# ----------------------------------------------------------------------------- one test per class

@pytest.mark.parametrize("smiles,element", [
    ("[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "Fe"),  # ferrocene written as ions: never "largest fragment" Cp-
    ("N.N.Cl[Pt]Cl", "Pt"),  # cisplatin
    ("CCCC[Sn](CCCC)(CCCC)Cl", "Sn"),  # tributyltin chloride
    ("C[Hg]Cl", "Hg"),
    ("CC[Hg]Sc1ccccc1C(=O)[O-].[Na+]", "Hg"),  # thiomersal: the sodium is a counter-ion, the Hg is not
    ("[As](c1ccccc1)(c1ccccc1)c1ccccc1", "As"),
    ("*CCO", "*"),
])
def test_metals_and_atoms_outside_the_ligand_elements(smiles, element):
    msg = prep_error(smiles)
    assert msg.startswith(f"contains {element}") and "outside the ligand elements" in msg


def test_radicals_are_refused():
    assert prep_error("[CH3]") == "radical: 1 unpaired electron(s) on atom 0 (C)"
    assert prep_error("CC(C)(C)O[O]").startswith("radical: 1 unpaired electron(s) on atom 5 (O)")


def test_salts_are_stripped_with_a_note_and_mixtures_refused():
    mol, notes = standardize(parse_record(Record(0, "x", "smiles", "[Na+].[O-]C(=O)c1ccccc1")))
    assert notes == ["stripped counter-ions: Na+", "neutralised"]
    mol, notes = standardize(parse_record(Record(0, "x", "smiles", "Cl.Cl.NCCc1ccc(O)c(O)c1.O")))
    assert notes == ["stripped counter-ions: HCl x2", "stripped solvent: H2O"]
    mol, notes = standardize(parse_record(Record(0, "x", "smiles", "CCO")))  # a solvent alone is the molecule
    assert notes == [] and mol.GetNumHeavyAtoms() == 3
    assert prep_error("c1ccccc1C(=O)O.CC(C)Cc1ccc(cc1)C(C)C(=O)O") == \
        "mixture of 2 molecules (C7H6O2, C13H18O2): give one molecule per record"
    assert prep_error("[Na+].[Cl-]") == "no molecule, only ions (Na+, Cl-)"
    _, notes = choose_molecule(parse_record(Record(0, "x", "smiles", "CCN.CCN")), PrepOptions())
    assert notes == ["kept 1 of 2 identical molecules"]


def test_huge_molecules_have_a_stated_limit():
    assert prep_error("C" * 120) == "120 heavy atoms, more than the limit of 80"
    assert prep_error("C" * 1500) == "SMILES of 1500 characters, more than the limit of 1000"
    assert prep_error("C" * 30, PrepOptions(max_heavy_atoms=20)) == "30 heavy atoms, more than the limit of 20"


def test_names_and_empty_lines(tmp_path):
    lib = tmp_path / "n.smi"
    lib.write_text("aspirin\n\nCCO ethanol\n   \nIbuprofen sodium salt\nCCN\n\n\n")
    recs = list(iter_records(lib))
    assert [(r.index, r.id, r.error) for r in recs] == [
        (0, "record0", None), (1, "record1", "empty line"), (2, "ethanol", None), (3, "record3", "empty line"),
        (4, "sodium", None), (5, "record5", None)]
    with pytest.raises(PrepError, match="unparsable SMILES 'aspirin'"):
        parse_record(recs[0])


def test_binary_lines_files_and_corrupt_gzip(tmp_path):
    lib = tmp_path / "b.smi"
    lib.write_bytes(b"CCO a\n\x00\x01\x02PNG\xff b\nCCN c\nC\xe9C latin1\nCCC d\n")
    got = [(r.index, r.id, r.text, r.error) for r in iter_records(lib)]
    assert got == [(0, "a", "CCO", None), (1, "record1", "", "binary data (control bytes), not text"),
                   (2, "c", "CCN", None), (3, "record3", "", "not UTF-8 text (binary data?)"), (4, "d", "CCC", None)]
    png = tmp_path / "picture.smi"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    recs = list(iter_records(png))
    assert [(r.index, r.error) for r in recs] == [(0, "picture.smi: a binary file, not a text library")]
    gz = tmp_path / "c.smi.gz"
    packed = gzip.compress("".join(f"C{'C' * (i % 7)}O m{i}\n" for i in range(3000)).encode())
    gz.write_bytes(packed[: len(packed) // 2])  # a truncated stream
    recs = list(iter_records(gz))
    assert all(r.error is None for r in recs[:-1]) and "corrupt gzip data, reading stopped here" in recs[-1].error
    sdf = tmp_path / "b.sdf"
    good = (DATA / "poses.sdf").read_text().split("$$$$\n")[0] + "$$$$\n"
    sdf.write_bytes(good.encode() + b"junk\x00\x00\n\xff\xfe\n$$$$\n" + good.encode())
    recs = list(iter_records(sdf))
    assert [r.error for r in recs] == [None, "binary data (control bytes), not text", None]


def test_a_truncated_sd_record_does_not_swallow_the_next_one(tmp_path):
    """RDKit's ForwardSDMolSupplier drops the record after a truncated one; the library reader must not."""
    good = (DATA / "poses.sdf").read_text().split("$$$$\n")[0] + "$$$$\n"
    sdf = tmp_path / "t.sdf"
    sdf.write_text(good + "cut_short\n  RDKit\n$$$$\n" + good)
    recs = list(iter_records(sdf))
    assert len(recs) == 3 and recs[1].id == "cut_short"
    with pytest.raises(PrepError, match="unparsable SDF record"):
        parse_record(recs[1])
    assert parse_record(recs[2]).GetNumAtoms() == parse_record(recs[0]).GetNumAtoms()


def test_binary_input_gives_one_error_row_and_text_output(tmp_path, model_path):
    png = tmp_path / "picture.smi"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 20)
    out = tmp_path / "o.csv"
    score_library(REC, png, out, autobox_ligand=REF, model=model_path, options=ScoreOptions(**QUICK), progress=False)
    rows = rows_of(out)
    assert len(rows) == 1 and rows[0]["error"] == "picture.smi: a binary file, not a text library"


def test_exception_text_is_replaced_by_a_short_reason(tmp_path, model_path, monkeypatch):
    from atomgrid import poses

    def boom(self, mol):
        raise RuntimeError("No VdW radius for atom with Z=80\n  at some RDKit internals")

    monkeypatch.setattr(poses.TemplatePoser, "poses", boom)
    lib = tmp_path / "one.smi"
    lib.write_text("CCO ethanol\n")
    out = tmp_path / "o.csv"
    score_library(REC, lib, out, autobox_ligand=REF, model=model_path, options=ScoreOptions(**QUICK), progress=False)
    assert rows_of(out)[0]["error"] == "template placement failed (RuntimeError)"


def test_empty_library_warns_and_exits_nonzero_unless_allowed(tmp_path, model_path, capsys):
    from atomgrid.cli import main
    lib = tmp_path / "empty.smi"
    lib.write_text("# nothing but a comment\n\n")
    out = tmp_path / "o.csv"
    common = ["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib),
              "--model", str(model_path), "--out", str(out)]
    assert main(common) == 1
    err = capsys.readouterr().err
    assert "warning" in err and "no records" in err and "--allow-empty" in err and "Traceback" not in err
    assert not out.exists() and not parts_dir(out).exists()
    assert main(common + ["--allow-empty"]) == 0
    assert out.read_text() == ",".join(OUTPUT_COLUMNS) + "\n"
    assert "warning" in capsys.readouterr().err


# ----------------------------------------------------------------------------- failed starts and resume

def test_a_failed_start_leaves_nothing_that_blocks_a_rerun(tmp_path, model_path):
    lib = tmp_path / "l.smi"
    lib.write_text("CCO a\nCCN b\n")
    out = tmp_path / "o.csv"
    with pytest.raises(ScoreError, match="receptor .*missing.pdb: no such file"):
        score_library(tmp_path / "missing.pdb", lib, out, autobox_ligand=REF, model=model_path, progress=False)
    junk = tmp_path / "junk.pdb"
    junk.write_text("this is not a PDB file\n")
    with pytest.raises(ScoreError, match="receptor"):
        score_library(junk, lib, out, autobox_ligand=REF, model=model_path, progress=False)
    assert not parts_dir(out).exists()

    def fail_first_chunk(k):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):  # failed before any chunk was kept: nothing to resume, nothing left
        score_library(REC, lib, out, autobox_ligand=REF, model=model_path, options=ScoreOptions(**QUICK),
                      progress=False, executor=lambda ctx, todo, done: fail_first_chunk(0))
    assert not parts_dir(out).exists()
    s = score_library(REC, lib, out, autobox_ligand=REF, model=model_path, options=ScoreOptions(**QUICK),
                      progress=False)
    assert s["records"] == 2 and s["errors"] == 0


def test_resume_says_which_input_changed(tmp_path, model_path):
    lib = tmp_path / "l.smi"
    lib.write_text("CCO a\nCCN b\nCCC c\n")
    out = tmp_path / "o.csv"
    kw = dict(autobox_ligand=REF, model=model_path, progress=False)

    def stop(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_library(REC, lib, out, options=ScoreOptions(chunk_size=1, **QUICK), on_chunk=stop, **kw)
    lib.write_text("CCO a\nCCN b\nCCCC c\n")  # same path, same size class: another library
    with pytest.raises(ScoreError, match=r"ligand library .*l\.smi \(its content changed\)"):
        score_library(REC, lib, out, resume=True, options=ScoreOptions(chunk_size=1, **QUICK), **kw)
    lib.write_text("CCO a\nCCN b\nCCC c\n")
    with pytest.raises(ScoreError, match=r"n_confs \(1 then, 2 now\)"):
        score_library(REC, lib, out, resume=True, options=ScoreOptions(chunk_size=1, **{**QUICK, "n_confs": 2}), **kw)
    s = score_library(REC, lib, out, resume=True, options=ScoreOptions(chunk_size=1, **QUICK), **kw)
    assert s["resumed_records"] == 1 and s["scored_now"] == 2


def test_enrich_plot_writes_roc_and_enrichment_curves(tmp_path, capsys):
    from atomgrid.cli import main
    scores = tmp_path / "s.csv"
    lines = [",".join(OUTPUT_COLUMNS)]
    for i in range(60):
        active = i % 6 == 0
        score = 0.9 - i / 100 if active else 0.8 - (i % 17) / 40
        vina = "" if i == 7 else f"{-9 + (i % 11) / 3:.2f}"
        err = "contains Hg: outside the ligand elements" if i == 7 else ""
        row = {"index": str(i), "id": f"{'a' if active else 'd'}{i}", "input_smiles": "C", "smiles": "C",
               "score": "" if err else f"{score:.4f}", "pK": "" if err else f"{5 + score:.3f}", "pose": "template",
               "n_poses": "0" if err else "3", "vina": vina, "error": err}
        lines.append(",".join(row.get(c, "") for c in OUTPUT_COLUMNS))
    scores.write_text("\n".join(lines) + "\n")
    actives = tmp_path / "act.smi"
    actives.write_text("".join(f"C a{i}\n" for i in range(0, 60, 6)))
    png = tmp_path / "curves" / "enrich.png"
    assert main(["enrich", str(scores), "--actives", str(actives), "--columns", "score", "pK", "vina",
                 "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "score: 60 compounds (10 actives, 1 failed rows)" in out and "vina:" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 20_000 < len(data) < 1_000_000
    from PIL import Image
    import io as _io
    w, h = Image.open(_io.BytesIO(data)).size
    assert (w, h) == (1100, 495)


def test_an_output_that_is_an_input_or_a_folder_is_refused_before_any_work(tmp_path, capsys):
    """Found by a user: `--out` naming the library (or the receptor, or --out-sdf) overwrote it with results, exit 0;
    an output folder failed only after all the scoring."""
    from atomgrid.cli import main
    lib = tmp_path / "lib.smi"
    lib.write_text("CCO ethanol\n")
    base = ["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib)]
    (tmp_path / "folder").mkdir()
    cases = [(["--out", str(lib)], f"--out {lib} is also --ligands: writing it would overwrite that input"),
             (["--out", str(tmp_path / "a.csv"), "--out-sdf", str(REF)], "is also --autobox-ligand"),
             (["--out", str(tmp_path / "a.csv"), "--out-sdf", str(tmp_path / "a.csv")], "is also --out"),
             (["--out", str(tmp_path / "folder")], "is a folder; give a file path"),
             (["--out", str(lib / "x.csv")], "is a file, not a folder")]
    for extra, message in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (extra, err)
    assert lib.read_text() == "CCO ethanol\n" and not list(tmp_path.glob("*.parts"))
    (tmp_path / "s.json").write_text("{}")
    assert main(["compare", str(tmp_path / "s.json"), str(tmp_path / "s.json"), "--json", str(tmp_path / "s.json")]) == 2
    assert "writing it would overwrite that input" in capsys.readouterr().err


def test_a_box_off_the_receptor_or_half_a_box_is_refused(tmp_path, model_path):
    lib = tmp_path / "lib.smi"
    lib.write_text("CCO ethanol\n")
    with pytest.raises(ScoreError, match="no heavy atom within 8 Å of the box"):
        score_library(REC, lib, tmp_path / "o.csv", center=(500, 500, 500), size=(20, 20, 20), model=model_path,
                      options=ScoreOptions(poses="given"), progress=False)
    with pytest.raises(ScoreError, match="--center and --size go together"):  # with a reference, --size was ignored
        score_library(REC, lib, tmp_path / "o.csv", autobox_ligand=REF, size=(-10, -10, -10), model=model_path,
                      progress=False)
    with pytest.raises(ScoreError, match="--center nan 0 0: not finite"):
        score_library(REC, lib, tmp_path / "o.csv", center=(float("nan"), 0, 0), size=(20, 20, 20),
                      model=model_path, options=ScoreOptions(poses="given"), progress=False)
    assert not parts_dir(tmp_path / "o.csv").exists()


def test_a_given_pose_outside_the_box_or_collapsed_is_an_error_row(tmp_path, model_path):
    """Found by a user: a pose moved 200 Å away, or with every atom at one point, was scored (above the real pose)."""
    from rdkit import Chem
    good = next(iter(Chem.SDMolSupplier(str(DATA / "poses.sdf"), removeHs=False)))
    far, flat = Chem.Mol(good), Chem.Mol(good)
    for i in range(good.GetNumAtoms()):
        p = good.GetConformer().GetAtomPosition(i)
        far.GetConformer().SetAtomPosition(i, (p.x + 200, p.y, p.z))
        flat.GetConformer().SetAtomPosition(i, (1.0, 1.0, 1.0 + 1e-3 * (i % 2)))
    lib = tmp_path / "lib.sdf"
    with Chem.SDWriter(str(lib)) as w:
        for name, m in (("ok", good), ("far_away", far), ("collapsed", flat)):
            m.SetProp("_Name", name)
            w.write(m)
    out = tmp_path / "o.csv"
    score_library(REC, lib, out, autobox_ligand=REF, model=model_path, options=ScoreOptions(poses="given"),
                  progress=False)
    rows = rows_of(out)
    assert rows[0]["error"] == "" and rows[0]["score"] != ""
    assert rows[1]["error"].startswith("given pose lies outside the box: its centre (") and rows[1]["score"] == ""
    assert "not a 3D structure" in rows[2]["error"] and rows[2]["score"] == ""


def test_enrich_refuses_what_would_be_a_meaningless_figure(tmp_path, capsys):
    """Found by a user: unnamed actives matched the library by position (record0, record1, ...), an actives file
    matching nothing gave ROC AUC nan with exit 0, an empty column 0.500, a text column a ValueError."""
    from atomgrid.cli import main
    scores = tmp_path / "s.csv"
    scores.write_text("\ufeff" + ",".join(OUTPUT_COLUMNS) + "\n" + "".join(
        ",".join({"index": str(i), "id": f"m{i}", "score": f"{i / 10:.2f}"}.get(c, "") for c in OUTPUT_COLUMNS) + "\n"
        for i in range(6)))
    named, unnamed, other = tmp_path / "a.smi", tmp_path / "u.smi", tmp_path / "o.smi"
    named.write_text("C m5\nCC m4\n")
    unnamed.write_text("C\n")
    other.write_text("C x1\n")
    assert main(["enrich", str(scores), "--actives", str(named)]) == 0  # a BOM before the header is read through
    assert "2 actives" in capsys.readouterr().out
    cases = [(["--actives", str(unnamed)], "record 1 has no name; enrich matches actives by id"),
             (["--actives", str(other)], "none of the 1 active ids is a row id"),
             (["--actives", str(named), "--columns", "blend"], "column 'blend' has no value in any row"),
             (["--actives", str(named), "--columns", "id"], "column 'id' is not a score (row 'm0' holds 'm0')")]
    for extra, message in cases:
        assert main(["enrich", str(scores)] + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (extra, err)


def test_counts_devices_and_cluster_addresses_are_checked_first(tmp_path, capsys):
    from atomgrid.cli import main
    lib = tmp_path / "lib.smi"
    lib.write_text("CCO ethanol\n")
    base = ["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib), "--out",
            str(tmp_path / "o.csv")]
    for extra, message in [(["--top", "-1"], "--top -1: must be >= 0"), (["--explain", "-1"], "--explain -1"),
                           (["--workers", "-1"], "--workers -1"), (["--device", "bogus"], "device 'bogus': not a torch device"),
                           (["--workers", "1", "--address", "127.0.0.1:1"], "--address 127.0.0.1:1: no Ray head answers"),
                           (["--model", ""], "--model is empty")]:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and not any("Traceback" in ln for ln in err), (extra, err)
    assert not parts_dir(tmp_path / "o.csv").exists()
